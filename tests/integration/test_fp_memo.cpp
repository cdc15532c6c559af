// Frame-pointer mode's memo (bpf/fp_memo.bpf.h): an opening whose registers and stack words
// match an earlier one's takes that one's stack id and caller instead of the kernel's walk. It
// must give each opening the stack the walk gives, tell apart paths that only a return address
// on the stack tells apart, and never name a stack id the stack map's recycling deleted (that
// one: HostileOutputs.ManyDistinctStacksLeaveRoomForALateLeak).
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <thread>

#include "harness.h"
#include "leak_checks.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

struct MemoCounts {
    unsigned long matched = 0, walked = 0, searched = 0;
};

// From cwtrace -v's "frame-pointer memo: M openings matched, W walked; of the matched, S
// searched for their caller again".
std::optional<MemoCounts> memo_counts(const std::string& err) {
    std::smatch m;
    if (!std::regex_search(err, m,
                           std::regex(R"(frame-pointer memo: (\d+) openings matched, (\d+) )"
                                      R"(walked; of the matched, (\d+) searched)")))
        return std::nullopt;
    return MemoCounts{std::stoul(m[1]), std::stoul(m[2]), std::stoul(m[3])};
}

}  // namespace

// crawl() and crawl_other() are the same code: connect() is reached from both with the same
// registers, and only the return addresses in the frames tell them apart. Four sockets through
// each, one after another: the first of each path is walked, the next three match its memo, and
// every socket shows the stack its path's walk gave.
TEST(FpMemo, RepeatsTakeTheWalkedStackAndTwinPathsStayApart) {
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    ASSERT_GT(port, 0);
    Process client({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "4", "-o", "4", "-w", "20"});
    ASSERT_TRUE(client.wait_line("waiting", 5s)) << client.err();
    auto cwtrace = start_cwtrace({"--min-age", "0s", "-f", "json", "--user-stacks", "fp", "--pid",
                                  std::to_string(client.pid())});
    if (!cwtrace) return;
    client.signal(SIGUSR1);  // attached: now the leaks
    ASSERT_TRUE(client.wait_line("ready", 10s)) << client.err();
    const json report = stop_with_report(*cwtrace);

    const auto leaked = sockets_with_port(report, "remote", port);
    ASSERT_EQ(leaked.size(), 8u) << report.dump(1);
    std::map<std::string, std::vector<json>> by_path;  // the user stacks, by crawl()'s twin
    for (const auto& s : leaked) {
        const json& stack = s.at("origin").at("user_stack");
        const auto names = function_names(stack);
        const bool crawl = contains(names, "crawl"), other = contains(names, "crawl_other");
        EXPECT_NE(crawl, other) << joined(names);
        const std::string path = crawl ? "crawl" : "crawl_other";
        EXPECT_TRUE(starts_with_chain(names, {"connect", "open_connection", "fetch_page", path}));
        by_path[path].push_back(stack);
    }
    ASSERT_EQ(by_path["crawl"].size(), 4u) << report.dump(1);
    ASSERT_EQ(by_path["crawl_other"].size(), 4u) << report.dump(1);
    for (const auto& [path, stacks] : by_path)
        for (const json& stack : stacks) EXPECT_EQ(stack, stacks.front()) << path;
    EXPECT_TRUE(nothing_dropped(report.at("stats")));

    const auto counts = memo_counts(cwtrace->err());
    ASSERT_TRUE(counts) << cwtrace->err();
    EXPECT_EQ(counts->matched, 6u) << cwtrace->err();
    EXPECT_EQ(counts->walked, 2u) << cwtrace->err();
    EXPECT_EQ(counts->searched, 0u) << cwtrace->err();  // one thread: nothing differed
}

// From a second thread, glibc's connect() takes its cancellable path, which keeps the descriptor
// in the words the caller search passes over: each leak's differ (a new descriptor each), the
// frame-pointer walk's do not. Every leak after the first takes the walk's stack from the memo
// and searches for its caller alone (no walk), and shows the same whole stack as the first.
TEST(FpMemo, ADescriptorOnTheStackCostsTheCallerSearchNotTheWalk) {
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    ASSERT_GT(port, 0);
    Process client(
        {FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "4", "-t", "crawler", "-w", "20"});
    ASSERT_TRUE(client.wait_line("waiting", 5s)) << client.err();
    auto cwtrace = start_cwtrace({"--min-age", "0s", "-f", "json", "--user-stacks", "fp", "--pid",
                                  std::to_string(client.pid())});
    if (!cwtrace) return;
    client.signal(SIGUSR1);
    ASSERT_TRUE(client.wait_line("ready", 10s)) << client.err();
    const json report = stop_with_report(*cwtrace);

    const auto leaked = sockets_with_port(report, "remote", port);
    ASSERT_EQ(leaked.size(), 4u) << report.dump(1);
    const json& first = leaked.front().at("origin").at("user_stack");
    EXPECT_TRUE(starts_with_chain(function_names(first),
                                  {"connect", "open_connection", "fetch_page", "crawl"}))
        << joined(function_names(first));
    for (const auto& s : leaked) EXPECT_EQ(s.at("origin").at("user_stack"), first);
    EXPECT_TRUE(nothing_dropped(report.at("stats")));

    const auto counts = memo_counts(cwtrace->err());
    ASSERT_TRUE(counts) << cwtrace->err();
    EXPECT_EQ(counts->matched, 3u) << cwtrace->err();
    EXPECT_EQ(counts->walked, 1u) << cwtrace->err();
    EXPECT_EQ(counts->searched, 3u) << cwtrace->err();
}
