// Openings from named threads: a client connects and a server accepts from a thread of its own
// (pthread_setname_np), so the origin must carry that thread's tid, never the process's id, and
// that thread's name, and its stack runs up through the thread's start routine. Run in both user
// stack modes. The server accepts with plain accept(), the syscall no other test uses.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "harness.h"
#include "leak_checks.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

class Threads : public ::testing::TestWithParam<std::string> {};  // the --user-stacks mode

std::unique_ptr<Process> start_in_mode(const std::string& mode) {
    return start_cwtrace({"--min-age", "1s", "-f", "json", "--user-stacks", mode});
}

TEST_P(Threads, ConnectFromANamedThreadIsThatThreads) {
    auto cwtrace = start_in_mode(GetParam());
    if (!cwtrace) return;
    const Leaks leaks = client_leaks(*cwtrace, 2, {"-t", "crawler-3"});
    for (const auto& s : leaks.sockets) {
        expect_opened_by_thread(s, leaks.pid, leaks.tid, "crawler-3", "connect");
        EXPECT_EQ(s.at("comm"), "leaky_client") << "the owner is the process";
        const json& stack = s.at("origin").at("user_stack");
        EXPECT_TRUE(innermost_in_libc(stack, "connect"));
        EXPECT_TRUE(starts_with_chain(function_names(stack),
                                      {"connect", "open_connection", "fetch_page", "crawl",
                                       "leak_in_thread", "named_thread_main"}));
        EXPECT_TRUE(own_frame_is(s.at("origin"), "open_connection"));
    }
}

// accept(), not accept4(): its own tracepoint and program (on_accept_exit) attribute the socket.
TEST_P(Threads, PlainAcceptFromANamedThreadIsThatThreads) {
    auto cwtrace = start_in_mode(GetParam());
    if (!cwtrace) return;
    const Leaks leaks = server_leaks(*cwtrace, 2, {"-A", "-t", "acceptor-9"});
    for (const auto& s : leaks.sockets) {
        expect_opened_by_thread(s, leaks.pid, leaks.tid, "acceptor-9", "accept");
        EXPECT_EQ(s.at("comm"), "leaky_server") << "the owner is the process";
        const json& stack = s.at("origin").at("user_stack");
        EXPECT_TRUE(innermost_in_libc(stack, "accept"));
        EXPECT_TRUE(starts_with_chain(function_names(stack),
                                      {"accept", "accept_connection", "handle_client", "serve",
                                       "serve_in_thread", "named_thread_main"}));
        EXPECT_TRUE(own_frame_is(s.at("origin"), "accept_connection"));
    }
}

INSTANTIATE_TEST_SUITE_P(UserStacks, Threads, ::testing::Values("dwarf", "fp"),
                         [](const auto& info) { return info.param; });

}  // namespace
