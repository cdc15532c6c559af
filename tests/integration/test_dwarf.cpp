// Dwarf-mode user stacks (issue 8): a program built without frame pointers leaks connections
// through a chain of named functions; the report names every function of the chain.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>

#include "harness.h"
#include "helpers.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

// Runs cwtrace with `mode` while nofp_client leaks 2 connections, and returns the user stacks
// of the leaked sockets (empty with a test failure or skip when cwtrace cannot run).
std::vector<std::vector<std::string>> leaked_user_stacks(const std::string& mode) {
    Process cwtrace({CWTRACE_BIN, "--min-age", "1s", "-f", "json", "--user-stacks", mode});
    if (!cwtrace.wait_stderr("tracing TCP", 20s)) {
        const std::string why = "cwtrace did not start: " + cwtrace.err();
        if (bpf_required()) ADD_FAILURE() << why;
        return {};
    }
    Process peer({FX_PEER, "-l"});
    auto port_line = peer.wait_line("port ", 5s);
    EXPECT_TRUE(port_line);
    if (!port_line) return {};
    const std::string port = port_line->substr(port_line->find(' ') + 1);
    Process client({FX_NOFP_CLIENT, "-p", port, "-n", "2"});
    EXPECT_TRUE(client.wait_line("ready", 5s)) << client.err();
    std::this_thread::sleep_for(1500ms);
    cwtrace.signal(SIGINT);
    EXPECT_EQ(cwtrace.wait(20s), std::optional<int>(0)) << cwtrace.err();
    json report = json::parse(cwtrace.out());
    std::vector<std::vector<std::string>> stacks;
    for (const auto& s : report.at("sockets")) {
        if (s.at("remote").at("port").get<int>() != std::stoi(port)) continue;
        EXPECT_EQ(s.at("origin").at("pid"), client.pid());
        stacks.push_back(function_names(s.at("origin").at("user_stack")));
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
    auto stacks = leaked_user_stacks("dwarf");
    for (const auto& user : stacks) {
        const std::vector<std::string> chain = {"connect", "open_connection", "fetch_page", "crawl",
                                                "main"};
        ASSERT_GE(user.size(), chain.size()) << joined(user);
        EXPECT_TRUE(std::equal(chain.begin(), chain.end(), user.begin())) << joined(user);
    }
}

// The same program in frame-pointer mode loses the chain: what makes the test above meaningful.
TEST(DwarfStacks, FramePointerModeCannotSeeTheCallers) {
    if (skip_without_bpf()) GTEST_SKIP() << "needs root";
    auto stacks = leaked_user_stacks("fp");
    for (const auto& user : stacks)
        EXPECT_EQ(std::find(user.begin(), user.end(), "crawl"), user.end()) << joined(user);
}
