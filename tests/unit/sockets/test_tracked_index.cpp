// Which tracked socket a dumped one is: by inode, or by flow for one tracked before it had an
// inode; a whole dump matched at once finds what one question a socket finds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "sockets/close_wait_scan.h"

namespace cwtrace {
namespace {

TrackedSocket tracked(uint64_t ino, uint16_t sport) {
    TrackedSocket s;
    s.ino = ino;
    s.flow.family = 2;
    s.flow.sport = sport;
    s.flow.dport = 80;
    return s;
}

DiagSocket dumped(uint64_t inode, uint16_t sport) {
    DiagSocket d;
    d.inode = inode;
    d.sport = sport;
    d.dport = 80;
    return d;
}

TEST(TrackedIndex, ADumpMatchedAtOnceFindsWhatEachQuestionFinds) {
    // Positions 0..3: by inode 900, 100, 500; one without an inode yet (in a listen queue).
    const std::vector<TrackedSocket> list = {tracked(900, 1), tracked(100, 2), tracked(500, 3),
                                             tracked(0, 4)};
    TrackedIndex index(list.size());
    for (uint32_t i = 0; i < list.size(); ++i) index.add(i, list[i]);
    index.finish();
    EXPECT_TRUE(index.holds(500));
    EXPECT_FALSE(index.holds(501));

    const std::vector<DiagSocket> sockets = {
        dumped(500, 3),                  // by inode
        dumped(777, 9),                  // unknown
        dumped(42, 4),                   // its inode since accept() is not indexed: by its flow
        dumped(900, 1), dumped(100, 7),  // by inode, whatever the flow says
        dumped(0, 2),  // no inode, and no socket tracked without one has that flow
    };
    std::vector<DumpedSocket> dump;
    for (const DiagSocket& d : sockets) dump.push_back({flow_of(d), d.inode, {}});
    std::vector<std::pair<size_t, uint32_t>> matched;
    index.match(dump,
                [&](size_t at, uint32_t tracked_at) { matched.emplace_back(at, tracked_at); });
    std::sort(matched.begin(), matched.end());
    const std::vector<std::pair<size_t, uint32_t>> want = {{0, 2}, {2, 3}, {3, 0}, {4, 1}};
    EXPECT_EQ(matched, want);
    for (size_t i = 0; i < dump.size(); ++i) {
        const auto one = index.find(sockets[i]);
        const auto it =
            std::find_if(want.begin(), want.end(), [&](auto& m) { return m.first == i; });
        if (it == want.end())
            EXPECT_FALSE(one) << i;
        else
            EXPECT_EQ(one, it->second) << i;
    }
}

}  // namespace
}  // namespace cwtrace
