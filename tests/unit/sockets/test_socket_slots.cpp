#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "sockets/socket_slots.h"

namespace cwtrace {
namespace {

TrackedSocket socket_at(uint64_t key) {
    TrackedSocket s;
    s.key = key;
    s.ino = key + 1000;
    return s;
}

std::vector<uint64_t> keys_of(const SocketSlots& slots) {
    std::vector<uint64_t> keys;
    for (const TrackedSocket& s : slots) keys.push_back(s.key);
    std::sort(keys.begin(), keys.end());
    return keys;
}

// Erasing from the middle, the front and the end leaves every other socket found by its key,
// with its own fields, and the walk over the array lists exactly them.
TEST(SocketSlots, EraseKeepsEveryOtherSocketFoundByItsKey) {
    SocketSlots slots;
    for (uint64_t key : {10, 20, 30, 40, 50}) slots.insert(socket_at(key));
    EXPECT_EQ(slots.size(), 5u);
    EXPECT_TRUE(slots.erase(20));   // the last one moves into its slot
    EXPECT_FALSE(slots.erase(20));  // gone
    EXPECT_TRUE(slots.erase(50));   // the last one itself
    EXPECT_TRUE(slots.erase(10));
    EXPECT_EQ(keys_of(slots), (std::vector<uint64_t>{30, 40}));
    for (uint64_t key : {30, 40}) {
        const TrackedSocket* s = slots.find(key);
        ASSERT_NE(s, nullptr) << key;
        EXPECT_EQ(s->key, key);
        EXPECT_EQ(s->ino, key + 1000);
    }
    for (uint64_t key : {10, 20, 50, 60}) EXPECT_EQ(slots.find(key), nullptr) << key;

    slots.insert(socket_at(20));  // a key erased before comes back
    EXPECT_EQ(slots.find(20)->ino, 1020u);
    EXPECT_EQ(keys_of(slots), (std::vector<uint64_t>{20, 30, 40}));
}

TEST(SocketSlots, WritesThroughFindStay) {
    SocketSlots slots;
    slots.insert(socket_at(1));
    slots.insert(socket_at(2));
    slots.find(1)->map_read = 7;
    slots.erase(1);
    slots.find(2)->map_read = 9;
    slots.insert(socket_at(1));
    EXPECT_EQ(slots.find(1)->map_read, 0u);  // a new socket, not the erased one's fields
    EXPECT_EQ(slots.find(2)->map_read, 9u);
}

}  // namespace
}  // namespace cwtrace
