// Frame-pointer mode (--user-stacks fp) shown positively: the walk gives the fixtures' whole
// chains, and the caller of libc's frameless syscall wrapper, which no frame-pointer walk can see,
// is recovered from the word at the stack pointer. And --weight seconds end to end: a live
// folded report weighs the opening path by its sockets' whole seconds in CLOSE_WAIT.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "harness.h"
#include "leak_checks.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

// open_connection() calls connect(), a wrapper that sets up no frame: the frame pointer still
// points into open_connection's caller, so only the recovered return address names it.
TEST(FramePointerMode, ConnectChainHasTheWrappersCaller) {
    auto cwtrace = start_cwtrace({"--min-age", "1s", "-f", "json", "--user-stacks", "fp"});
    if (!cwtrace) return;
    for (const auto& s : client_leaks(*cwtrace, 2, {}).sockets) {
        const json& stack = s.at("origin").at("user_stack");
        EXPECT_TRUE(innermost_in_libc(stack, "connect"));
        EXPECT_TRUE(starts_with_chain(
            function_names(stack), {"connect", "open_connection", "fetch_page", "crawl", "main"}));
    }
}

// The same on the accepting side, where the stack is taken at accept4()'s return.
TEST(FramePointerMode, AcceptChainHasTheWrappersCaller) {
    auto cwtrace = start_cwtrace({"--min-age", "1s", "-f", "json", "--user-stacks", "fp"});
    if (!cwtrace) return;
    for (const auto& s : server_leaks(*cwtrace, 2, {}).sockets) {
        const json& stack = s.at("origin").at("user_stack");
        EXPECT_TRUE(innermost_in_libc(stack, "accept4"));
        EXPECT_TRUE(starts_with_chain(function_names(stack), {"accept4", "accept_connection",
                                                              "handle_client", "serve", "main"}));
    }
}

// The weight of one folded line (`comm;frames WEIGHT`).
long folded_weight(const std::string& line) { return std::stol(line.substr(line.rfind(' ') + 1)); }

// Three sockets stuck about 3.7 s, 2.7 s and 1.7 s (opened 1 s apart, the report taken 1.7 s
// after the last): a live folded report with --weight seconds weighs their one path 4 + 3 + 2 = 9
// (by socket count it would be 3). A JSON run stopped at the same moment gives each socket's
// seconds, which must be the ones weighed.
TEST(WeightSeconds, LiveFoldedReportWeighsThePathBySecondsInCloseWait) {
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    // The client exists before cwtrace starts (so --pid can name it) and connects once both
    // runs are attached.
    Process client(
        {FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "3", "-s", "1000", "-w", "30"});
    ASSERT_TRUE(client.wait_line("waiting", 5s)) << client.err();
    const std::string pid = std::to_string(client.pid());
    auto folded_run =
        start_cwtrace({"--min-age", "0s", "-f", "folded", "--weight", "seconds", "--pid", pid});
    if (!folded_run) return;
    auto json_run = start_cwtrace({"--min-age", "0s", "-f", "json", "--pid", pid});
    if (!json_run) return;
    client.signal(SIGUSR1);
    ASSERT_TRUE(client.wait_line("ready", 15s)) << client.err();
    std::this_thread::sleep_for(1700ms);
    folded_run->signal(SIGINT);
    json_run->signal(SIGINT);
    ASSERT_EQ(folded_run->wait(20s), std::optional<int>(0)) << folded_run->err();
    ASSERT_EQ(json_run->wait(20s), std::optional<int>(0)) << json_run->err();

    const json report = json::parse(json_run->out());
    const auto leaked = sockets_with_port(report, "remote", port);
    ASSERT_EQ(leaked.size(), 3u) << report.dump(2);
    long seconds = 0;
    std::vector<long> each;
    for (const auto& s : leaked) {
        each.push_back(std::lround(s.at("close_wait_seconds").get<double>()));
        seconds += each.back();
    }
    std::sort(each.begin(), each.end());
    ASSERT_EQ(each, (std::vector<long>{2, 3, 4})) << "the fixture's pacing\n" << report.dump(2);

    const std::string& folded = folded_run->out();
    ASSERT_EQ(std::count(folded.begin(), folded.end(), '\n'), 1) << folded;
    EXPECT_TRUE(folded.starts_with("leaky_client;")) << folded;
    EXPECT_NE(folded.find(";crawl;fetch_page;open_connection;connect;"), std::string::npos)
        << folded;
    EXPECT_EQ(folded_weight(folded), seconds) << folded << report.dump(2);
}

}  // namespace
