// cwtrace in a memory cgroup (5.11+ charges BPF maps to it): the opener map planned within the
// cgroup's room, loaded smaller with a warning naming the limit; the smallest map refused is
// exit 1 naming it. Each passes in the ASan build, whose own memory is the largest.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <regex>

#include "harness.h"
#include "kernel/opener_capacity.h"
#include "memory_cgroup.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

uint64_t number(std::string text) {
    text.erase(std::remove(text.begin(), text.end(), ','), text.end());
    return std::stoull(text);
}

// The command that runs the rest of its arguments in `cgroup`.
std::vector<std::string> in_cgroup(const MemoryCgroup& cgroup) {
    return {"/bin/sh", "-c", "echo $$ > \"$0\" && exec \"$@\"", cgroup.procs()};
}

}  // namespace

// A 960 MiB cgroup leaves less than the 1,048,576 entries (208 MiB) a 24 GiB host with the
// kernel's TCP defaults calls for: the map is planned within 1/5 of the room left after cwtrace's
// own (866,000 entries or so; 510,000 in the ASan build), loads at that size, the warning names
// the limit file and both sizes, and a leak made while tracing is reported with its opener.
TEST(Scale, OpenerMapPlannedWithinTheMemoryCgroupLoadsSmallerAndTraces) {
    constexpr uint64_t kLimit = 960ull << 20;
    MemoryCgroup cgroup(kLimit);
    ASSERT_FALSE(cgroup.procs().empty()) << "no memory cgroup controller on this machine";
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    Process client({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "3", "-w", "20"});
    ASSERT_TRUE(client.wait_line("waiting", 5s)) << client.err();
    std::vector<std::string> command = in_cgroup(cgroup);
    command.push_back(CWTRACE_BIN);
    auto cwtrace = start_cwtrace_as(
        command, {"-f", "json", "--min-age", "0s", "--pid", std::to_string(client.pid())});
    if (!cwtrace) return;
    const std::regex warning(
        "opener map: ([0-9,]+) entries \\(([0-9,]+) MiB\\), not the ([0-9,]+) the host calls "
        "for: cwtrace's memory cgroup leaves ([0-9,]+) MiB \\((.*): 960 MiB\\); raise that limit");
    std::smatch m;
    const std::string err = cwtrace->err();
    ASSERT_TRUE(std::regex_search(err, m, warning)) << err;
    const uint64_t entries = number(m[1]), host_entries = number(m[3]), room = number(m[4]) << 20;
    EXPECT_TRUE(m[5] == cgroup.dir() + "/memory.max" ||
                m[5] == cgroup.dir() + "/memory.limit_in_bytes")
        << m[5];
    EXPECT_LT(entries, host_entries);
    // The room is the limit less what the cgroup held at the start (the shell, cwtrace so far),
    // said in whole MiB: the size is 1/5 of it after cwtrace's own, within that MiB.
    EXPECT_LE(room, kLimit);
    EXPECT_GT(room, kLimit - (64ull << 20));
    const uint64_t share = (room - cwtrace::kOwnBytes) / cwtrace::kCgroupShare;
    EXPECT_GE(entries, share / cwtrace::kOpenerEntryBytes);
    EXPECT_LE(entries, (share + (1 << 20)) / cwtrace::kOpenerEntryBytes);
    EXPECT_EQ(number(m[2]), entries * cwtrace::kOpenerEntryBytes >> 20);

    client.signal(SIGUSR1);  // attached: now the leaks
    ASSERT_TRUE(client.wait_line("ready", 10s)) << client.err();
    const json report = stop_with_report(*cwtrace);
    // As many, in whole buckets of the opener table where there is one.
    const uint64_t kept = report.at("stats").at("origin_map_entries").get<uint64_t>();
    EXPECT_GE(kept, entries) << report.at("stats").dump();
    EXPECT_LT(kept, entries + CW_OPENER_WAYS) << report.at("stats").dump();
    const std::vector<json> leaked = sockets_with_port(report, "remote", port);
    ASSERT_EQ(leaked.size(), 3u) << report.dump(1);
    for (const json& s : leaked)
        EXPECT_TRUE(contains(function_names(s.at("origin").at("user_stack")), "open_connection"))
            << s.dump(1);
}

// Room for cwtrace up to its maps (the features probe, the object opened, its BTF: ~14 MiB
// measured, ~70 MiB under ASan, OOM-killed at 64 MiB) and the ring buffer created before the
// opener map, but not for the smallest opener map (262,144 entries: 52 MiB, 37 MiB as the opener
// table) on top.
#if defined(__SANITIZE_ADDRESS__)
constexpr uint64_t kRoomForCwtraceOnly = 96ull << 20;
#else
constexpr uint64_t kRoomForCwtraceOnly = 40ull << 20;
#endif

// The smallest opener map refused: no smaller one is tried, exit 1 with one line naming the map,
// why, and the limit to raise; nothing left loaded.
TEST(Scale, SmallestOpenerMapRefusedIsExit1NamingIt) {
    MemoryCgroup cgroup(kRoomForCwtraceOnly);
    ASSERT_FALSE(cgroup.procs().empty()) << "no memory cgroup controller on this machine";
    const auto before = cwtrace_bpf_objects();
    std::vector<std::string> command = in_cgroup(cgroup);
    command.insert(command.end(), {CWTRACE_BIN, "-d", "1s", "-f", "json"});
    const RunResult r = run_command(command, 30s);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    // The opener table where the programs keep openers there, the map where not.
    EXPECT_TRUE(std::regex_search(r.err, std::regex("the kernel refused to create BPF map "
                                                    "'(opener_table|origins)': Cannot allocate "
                                                    "memory")))
        << r.err;
    EXPECT_NE(r.err.find("hint: raise the memory limit of cwtrace's cgroup"), std::string::npos)
        << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(new_cwtrace_bpf_objects(before).empty()) << "nothing left loaded";
}
