// The README's claims about how native frames are named in a live report: file and line from
// DWARF debug info, and JIT code (no file behind it) named from /tmp/perf-PID.map.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "claims_support.h"
#include "harness.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

// The opening stacks of the sockets `argv` (given the peer's port after "-p") leaks, as a
// report of cwtrace run with `mode` shows them; `ready` is the fixture's last line before it
// waits. Empty with a failure or skip when cwtrace or the fixture could not run.
std::vector<json> leaked_stacks(const std::string& mode, std::vector<std::string> argv,
                                pid_t* fixture_pid = nullptr) {
    auto cwtrace = start_cwtrace({"--min-age", "1s", "-f", "json", "--user-stacks", mode});
    if (!cwtrace) return {};
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    argv.insert(argv.begin() + 1, {"-p", std::to_string(port)});
    Process fixture(argv);
    if (fixture_pid) *fixture_pid = fixture.pid();
    EXPECT_TRUE(fixture.wait_line("ready", 5s)) << fixture.err();
    std::this_thread::sleep_for(1500ms);
    const json report = stop_with_report(*cwtrace);
    std::vector<json> stacks;
    for (const auto& s : sockets_with_port(report, "remote", port)) {
        EXPECT_EQ(s.at("origin").at("pid"), fixture.pid());
        stacks.push_back(s.at("origin").at("user_stack"));
    }
    EXPECT_TRUE(nothing_dropped(report.at("stats")));
    return stacks;
}

class ClaimsFrames : public ::testing::TestWithParam<std::string> {};

// "Where DWARF is available, frames get file and line in JSON": leaky_client built with -g;
// each of its frames names the line of the call it made (of connect() for the innermost).
TEST_P(ClaimsFrames, NativeFramesCarryFileAndLineFromDwarf) {
    const std::string source = FX_DEBUG_CLIENT_SOURCE;
    const std::string file = "tests/fixtures/leaky_client.c";
    auto line = [&](const char* needle) {
        const int n = line_of(source, needle);
        EXPECT_GT(n, 0) << needle;
        return n;
    };
    const std::vector<ExpectedFrame> chain = {
        {"connect", kLibc},
        {"open_connection", FX_DEBUG_CLIENT, file, line("if (connect(fd,")},
        {"fetch_page", FX_DEBUG_CLIENT, file, line("int fd = open_connection();")},
        {"crawl", FX_DEBUG_CLIENT, file, line("int crawl(void)")},
        {"main", FX_DEBUG_CLIENT, file, line("? crawl() : crawl_other();")}};
    const auto stacks = leaked_stacks(GetParam(), {FX_DEBUG_CLIENT, "-n", "2"});
    if (IsSkipped()) return;  // the harness runs tests choosing their mode in the default only
    EXPECT_EQ(stacks.size(), 2u);
    for (const auto& stack : stacks) EXPECT_TRUE(starts_with(stack, chain));
}

// "JIT code (no file behind it) is named from /tmp/perf-PID.map": jit_client calls
// open_connection() from code it copied into anonymous memory and named in its perf map.
TEST_P(ClaimsFrames, JitCodeIsNamedFromThePerfMap) {
    pid_t pid = 0;
    const auto stacks = leaked_stacks(GetParam(), {FX_JIT_CLIENT, "-n", "2"}, &pid);
    if (IsSkipped()) return;
    EXPECT_EQ(stacks.size(), 2u);
    const std::string perf_map = "/tmp/perf-" + std::to_string(pid) + ".map";
    for (const auto& stack : stacks)
        EXPECT_TRUE(starts_with(stack, {{"connect", kLibc},
                                        {"open_connection", FX_JIT_CLIENT},
                                        {"LazyCompile:*fetchPage /srv/app/crawler.js:12", perf_map},
                                        {"main", FX_JIT_CLIENT}}));
}

INSTANTIATE_TEST_SUITE_P(UserStacks, ClaimsFrames, ::testing::Values("dwarf", "fp"));

}  // namespace
