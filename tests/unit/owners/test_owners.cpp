#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <unordered_map>

#include "owners/owner_finder.h"
#include "owners/owners.h"

using namespace cwtrace;

namespace {

uint64_t inode_of(int fd) {
    struct stat st = {};
    fstat(fd, &st);
    return st.st_ino;
}

}  // namespace

TEST(Owners, FindsTheProcessHoldingASocket) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    const uint64_t ino = inode_of(fd);
    auto owners = find_socket_owners({ino, 999999999999ULL});
    ASSERT_EQ(owners.count(ino), 1u);
    EXPECT_EQ(owners.at(ino).pid, getpid());
    EXPECT_EQ(owners.at(ino).comm, read_comm(getpid()));
    EXPECT_FALSE(owners.at(ino).comm.empty());
    EXPECT_EQ(owners.count(999999999999ULL), 0u) << "an inode nobody holds is absent";
    close(fd);
    EXPECT_TRUE(find_socket_owners({ino}).empty()) << "closed: nobody holds it";
}

TEST(Owners, LowestPidWinsWhenSharedAfterFork) {
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    pid_t child = fork();
    if (child == 0) {
        close(ready[1]);
        char c = 0;
        (void)!read(ready[0], &c, 1);  // hold the inherited socket until the parent is done
        _exit(0);
    }
    auto owners = find_socket_owners({inode_of(fd)});
    ASSERT_EQ(owners.size(), 1u);
    EXPECT_EQ(owners.begin()->second.pid, std::min(getpid(), child));
    close(ready[1]);
    close(ready[0]);
    close(fd);
    waitpid(child, nullptr, 0);
}

TEST(Owners, ProcessIdentitySurvivesOnlyTheSameStartTime) {
    const uint64_t ticks = read_start_ticks(getpid());
    ASSERT_GT(ticks, 0u);
    const uint64_t ns_per_tick = 1'000'000'000ULL / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
    EXPECT_TRUE(same_process(getpid(), ticks * ns_per_tick + ns_per_tick / 2));
    EXPECT_FALSE(same_process(getpid(), (ticks + 1) * ns_per_tick)) << "a reused pid";
    EXPECT_FALSE(same_process(999999999, ticks * ns_per_tick)) << "no such process";
}

TEST(Owners, StartTicksParsedPastCommWithSpacesAndParens) {
    const std::string dir = ::testing::TempDir() + "cwtrace-proc";
    std::filesystem::create_directories(dir + "/42");
    std::ofstream(dir + "/42/stat")
        << "42 (evil) name (x) S 1 42 42 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 123456 1 2\n";
    EXPECT_EQ(read_start_ticks(42, dir), 123456u);
}

// Each socket looked for gets its lowest holder, whether the two sides come in order (the
// report's slots come in its index's order) or not.
TEST(AssignOwners, LowestHolderOfEachSocketInAnyOrder) {
    const pid_t self = getpid();
    const HeldSockets listed = {{10, self}, {20, self + 7}, {20, self}, {40, self + 3}};
    for (bool sorted : {true, false}) {
        pid_t a = 0, b = 0, c = 0, d = 0;
        OwnerSlots slots = {{10, &a}, {20, &b}, {30, &c}, {40, &d}};
        HeldSockets held = listed;
        if (sorted) {
            std::sort(held.begin(), held.end());
        } else {
            std::reverse(slots.begin(), slots.end());
        }
        std::unordered_map<pid_t, std::string> comms;
        assign_owners(slots, held, comms);
        EXPECT_EQ(a, self);
        EXPECT_EQ(b, self) << "the lowest of two holders";
        EXPECT_EQ(c, 0) << "held by no process";
        EXPECT_EQ(d, self + 3);
        EXPECT_EQ(comms.count(self), 1u);
        EXPECT_EQ(comms.count(self + 7), 0u) << "not an owner";
    }
}
