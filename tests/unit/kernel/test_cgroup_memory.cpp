// The room cwtrace's memory cgroup leaves it, read from made-up cgroup trees: v2 and v1, the
// least of the cgroup and its ancestors, "max" and v1's no-limit value, hostile paths.
#include <gtest/gtest.h>

#include <map>

#include "kernel/cgroup_memory.h"

namespace cwtrace {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

// A made-up cgroup filesystem: path -> text; a path not listed cannot be read.
CgroupFileReader files(std::map<std::string, std::string> tree) {
    return [tree = std::move(tree)](const std::string& path) -> std::optional<std::string> {
        const auto it = tree.find(path);
        if (it == tree.end()) return std::nullopt;
        return it->second;
    };
}

TEST(CgroupPaths, UnifiedAndV1MemoryLines) {
    const CgroupPaths v2 = cgroup_paths("0::/system.slice/cwtrace.service\n");
    EXPECT_EQ(v2.unified, "/system.slice/cwtrace.service");
    EXPECT_EQ(v2.memory_v1, "");
    // A hybrid host: v1 controllers, memory among others on its line, and the unified line.
    const CgroupPaths hybrid =
        cgroup_paths("9:name=systemd:/\n8:pids:/\n4:cpu,memory:/process_api/9882ba81\n0::/\n");
    EXPECT_EQ(hybrid.memory_v1, "/process_api/9882ba81");
    EXPECT_EQ(hybrid.unified, "/");
    // A path may hold ':' (the rest of the line is the path).
    EXPECT_EQ(cgroup_paths("0::/a:b\n").unified, "/a:b");
}

TEST(CgroupPaths, PathsOutsideTheMountAreIgnored) {
    // A cgroup namespace shows a cgroup outside its root as "/..": nothing to read under the mount.
    EXPECT_EQ(cgroup_paths("0::/../../x\n").unified, "");
    EXPECT_EQ(cgroup_paths("4:memory:/a/./b\n").memory_v1, "");
    EXPECT_EQ(cgroup_paths("4:memory:relative\n").memory_v1, "");
    EXPECT_EQ(cgroup_paths("0::/a//b\n").unified, "");
    EXPECT_EQ(cgroup_paths("garbage\n0:\n").unified, "");
    // "memoryx" is another controller.
    EXPECT_EQ(cgroup_paths("4:memoryx:/a\n").memory_v1, "");
}

TEST(MemoryLimit, NumbersMaxAndV1sNoLimit) {
    EXPECT_EQ(memory_limit("536870912\n"), 536'870'912u);
    EXPECT_EQ(memory_limit("max\n"), std::nullopt);
    EXPECT_EQ(memory_limit("9223372036854771712\n"), std::nullopt);  // v1: no limit
    EXPECT_EQ(memory_limit(""), std::nullopt);
    EXPECT_EQ(memory_limit("12x\n"), std::nullopt);
    EXPECT_EQ(memory_limit("-1\n"), std::nullopt);
    EXPECT_EQ(memory_limit("99999999999999999999999\n"), std::nullopt);
}

TEST(CgroupRoom, V2TheLeastOfTheCgroupAndItsAncestors) {
    const auto read = files({
        {"/sys/fs/cgroup/a/b/memory.max", "max\n"},
        {"/sys/fs/cgroup/a/b/memory.current", "10485760\n"},
        // The parent leaves 512 - 400 = 112 MiB; its own limit is larger than the child's room.
        {"/sys/fs/cgroup/a/memory.max", "536870912\n"},
        {"/sys/fs/cgroup/a/memory.current", "419430400\n"},
        // The root has no memory.max (v2): skipped.
    });
    const auto room = cgroup_room(cgroup_paths("0::/a/b\n"), read);
    ASSERT_TRUE(room);
    EXPECT_EQ(room->headroom_bytes, 112 * kMiB);
    EXPECT_EQ(room->limit_bytes, 512 * kMiB);
    EXPECT_EQ(room->limit_file, "/sys/fs/cgroup/a/memory.max");
}

TEST(CgroupRoom, V1MemoryControllerOnAHybridHost) {
    const auto read = files({
        {"/sys/fs/cgroup/memory/t/memory.limit_in_bytes", "268435456\n"},
        {"/sys/fs/cgroup/memory/t/memory.usage_in_bytes", "4194304\n"},
        {"/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n"},
        {"/sys/fs/cgroup/memory/memory.usage_in_bytes", "7516192768\n"},
    });
    const auto room = cgroup_room(cgroup_paths("4:memory:/t\n0::/\n"), read);
    ASSERT_TRUE(room);
    EXPECT_EQ(room->headroom_bytes, 252 * kMiB);
    EXPECT_EQ(room->limit_file, "/sys/fs/cgroup/memory/t/memory.limit_in_bytes");
}

TEST(CgroupRoom, UsageOverTheLimitLeavesNothing) {
    const auto read = files({{"/sys/fs/cgroup/x/memory.max", "1048576\n"},
                             {"/sys/fs/cgroup/x/memory.current", "2097152\n"}});
    const auto room = cgroup_room(cgroup_paths("0::/x\n"), read);
    ASSERT_TRUE(room);
    EXPECT_EQ(room->headroom_bytes, 0u);
}

TEST(CgroupRoom, NoLimitAnywhereIsNone) {
    const auto read = files({{"/sys/fs/cgroup/x/memory.max", "max\n"},
                             {"/sys/fs/cgroup/x/memory.current", "2097152\n"}});
    EXPECT_FALSE(cgroup_room(cgroup_paths("0::/x\n"), read));
    // A limit without a readable usage is not guessed at.
    EXPECT_FALSE(
        cgroup_room(cgroup_paths("0::/y\n"), files({{"/sys/fs/cgroup/y/memory.max", "4096\n"}})));
    EXPECT_FALSE(cgroup_room(cgroup_paths(""), files({})));
}

}  // namespace
}  // namespace cwtrace
