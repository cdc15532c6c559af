// Dwarf-mode user stacks: a program built without frame pointers leaks connections
// through a chain of named functions; the report names every function of the chain.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "harness.h"
#include "leak_checks.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

// Runs cwtrace with `mode` while nofp_client leaks 2 connections, and returns the user stacks
// of the leaked sockets (empty with a test failure or skip when cwtrace cannot run).
std::vector<json> leaked_user_stacks(const std::string& mode) {
    auto cwtrace = start_cwtrace({"--min-age", "1s", "-f", "json", "--user-stacks", mode});
    if (!cwtrace) return {};
    Process peer({FX_PEER, "-l"});
    auto port_line = peer.wait_line("port ", 5s);
    EXPECT_TRUE(port_line);
    if (!port_line) return {};
    const std::string port = port_line->substr(port_line->find(' ') + 1);
    Process client({FX_NOFP_CLIENT, "-p", port, "-n", "2"});
    EXPECT_TRUE(client.wait_line("ready", 5s)) << client.err();
    std::this_thread::sleep_for(1500ms);
    json report = stop_with_report(*cwtrace);
    std::vector<json> stacks;
    for (const auto& s : report.at("sockets")) {
        if (s.at("remote").at("port").get<int>() != std::stoi(port)) continue;
        EXPECT_EQ(s.at("origin").at("pid"), client.pid());
        stacks.push_back(s.at("origin").at("user_stack"));
    }
    EXPECT_EQ(stacks.size(), 2u) << report.dump(2);
    EXPECT_TRUE(nothing_dropped(report.at("stats")));
    return stacks;
}

bool skip_without_bpf() { return !bpf_required() && geteuid() != 0; }

}  // namespace

// libc's connect(), its direct caller and every caller up to main, innermost first and adjacent:
// nothing in the chain is skipped.
TEST(DwarfStacks, WholeChainWithoutFramePointers) {
    if (skip_without_bpf()) GTEST_SKIP() << "needs root";
    for (const auto& stack : leaked_user_stacks("dwarf")) {
        EXPECT_TRUE(innermost_in_libc(stack, "connect"));
        EXPECT_TRUE(starts_with_chain(
            function_names(stack), {"connect", "open_connection", "fetch_page", "crawl", "main"}));
    }
}

// The same program in frame-pointer mode loses the chain past connect()'s caller: what makes the
// test above meaningful. That caller is still there, recovered from the word at the stack pointer
// (connect() sets up no frame), and nothing after it, since the frame pointer holds no frame.
TEST(DwarfStacks, FramePointerModeCannotSeeTheCallers) {
    if (skip_without_bpf()) GTEST_SKIP() << "needs root";
    for (const auto& stack : leaked_user_stacks("fp")) {
        const auto user = function_names(stack);
        EXPECT_TRUE(innermost_in_libc(stack, "connect"));
        EXPECT_TRUE(starts_with_chain(user, {"connect", "open_connection"}));
        EXPECT_FALSE(contains(user, "fetch_page")) << joined(user);
        EXPECT_FALSE(contains(user, "crawl")) << joined(user);
    }
}

// The kernel side answers repeated openings from an earlier unwind (struct cw_unwind_memo) and
// sends no stack copy, yet never gives a path another's stack: crawl() and crawl_other() are the
// same code, so connect() is reached with the same registers from both, and only the return
// address on the stack tells them apart. Each of the six sockets must show its own caller.
TEST(DwarfStacks, KernelMemoAnswersRepeatsAndTellsTwinPathsApart) {
    if (skip_without_bpf()) GTEST_SKIP() << "needs root";
    Process peer({FX_PEER, "-l"});
    auto port_line = peer.wait_line("port ", 5s);
    ASSERT_TRUE(port_line);
    const std::string port = port_line->substr(port_line->find(' ') + 1);
    // 3 through crawl(), then 3 through crawl_other(), 300 ms apart: time for each copy to be
    // unwound and its memo stored before the next opening.
    Process client({FX_NOFP_CLIENT, "-p", port, "-n", "3", "-o", "3", "-s", "300", "-w", "30"});
    ASSERT_TRUE(client.wait_line("waiting", 5s)) << client.err();
    auto cwtrace = start_cwtrace(
        {"--min-age", "0s", "-f", "json", "-v", "--pid", std::to_string(client.pid())});
    if (!cwtrace) return;
    client.signal(SIGUSR1);  // attached: now the leaks
    ASSERT_TRUE(client.wait_line("ready", 15s)) << client.err();
    std::this_thread::sleep_for(500ms);
    ASSERT_EQ(stop(*cwtrace), std::optional<int>(0)) << cwtrace->err();

    json report = json::parse(cwtrace->out());
    size_t via_crawl = 0, via_other = 0;
    for (const auto& s : report.at("sockets")) {
        const auto user = function_names(s.at("origin").at("user_stack"));
        const bool crawl = std::find(user.begin(), user.end(), "crawl") != user.end();
        const bool other = std::find(user.begin(), user.end(), "crawl_other") != user.end();
        EXPECT_NE(crawl, other) << joined(user);
        via_crawl += crawl;
        via_other += other;
    }
    EXPECT_EQ(via_crawl, 3u) << report.dump(2);
    EXPECT_EQ(via_other, 3u) << report.dump(2);
    EXPECT_TRUE(nothing_dropped(report.at("stats")));

    // "... N memos given to the kernel, M openings matched there (no copy)": each of the six
    // openings was either copied and unwound, or matched; the twins' first opening was copied.
    const std::string err = cwtrace->err();
    std::smatch m;
    ASSERT_TRUE(std::regex_search(
        err, m, std::regex(R"((\d+) memos given to the kernel, (\d+) openings matched there)")))
        << err;
    const unsigned long given = std::stoul(m[1]), matched = std::stoul(m[2]);
    EXPECT_EQ(given + matched, 6u) << err;
    EXPECT_GE(given, 2u) << err;
    EXPECT_GE(matched, 2u) << err;
}
