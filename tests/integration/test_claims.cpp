// The README's claims about which processes and sockets cwtrace follows, each shown live: a
// Python process already running when cwtrace starts, an opener that exits at once, tracefs
// mounted by cwtrace when nobody did, connects made by io_uring.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "claims_support.h"
#include "harness.h"
#include "leak_checks.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

constexpr const char* kPython = "/usr/bin/python3";

// "Python processes already running are found at start": the crawler exec()s before cwtrace
// starts and connects only after it traces. Every socket, the first included (one the start's
// scan missed would be found only at that first socket, too late for it), has the Python chain.
TEST(Claims, PythonProcessRunningBeforeStartShowsItsFrames) {
    if (access(kPython, X_OK) != 0) GTEST_SKIP() << kPython << " missing (scripts/install-deps)";
    Process server({kPython, FX_PYTHON_SERVER});
    const int port = number_after_space(server.wait_line("port ", 10s).value_or("port 0"));
    ASSERT_GT(port, 0) << server.err();
    Process crawler({kPython, FX_WAITING_CRAWLER, std::to_string(port), "3"});
    ASSERT_TRUE(crawler.wait_line("waiting", 20s)) << crawler.err();

    auto cwtrace = start_cwtrace({"--min-age", "1s", "-f", "json"});
    if (!cwtrace) return;
    crawler.signal(SIGUSR1);
    ASSERT_TRUE(crawler.wait_line("ready", 20s)) << crawler.err();
    std::this_thread::sleep_for(1500ms);
    const json report = stop_with_report(*cwtrace);

    const auto leaked = sockets_with_port(report, "remote", port);
    ASSERT_EQ(leaked.size(), 3u) << report.dump(2);
    const std::vector<ExpectedFrame> chain = {
        {"fetch_page", "", FX_PYTHON_CRAWLER, line_of(FX_PYTHON_CRAWLER, "/page\"")},
        {"crawl", "", FX_PYTHON_CRAWLER, line_of(FX_PYTHON_CRAWLER, "        fetch_page(port)")},
        {"main", "", FX_WAITING_CRAWLER, line_of(FX_WAITING_CRAWLER, "leaky_crawler.crawl(")}};
    for (const auto& s : leaked) {
        EXPECT_EQ(s.at("origin").at("pid"), crawler.pid());
        EXPECT_TRUE(has_chain(s.at("origin").at("user_stack"), chain));
        EXPECT_TRUE(own_frame_is(s.at("origin"), "fetch_page", chain.front().line));
    }
    EXPECT_EQ(report.at("stats").at("lost").at("python_stacks_lost"), 0);
}

// What a report shows of quick_opener's two sockets, whose opener connected and exited (after
// lingering `linger_ms`, cwtrace stopped meanwhile when `freeze`) and whose keeper holds them.
std::vector<json> exited_openers_sockets(const std::string& mode, const std::string& linger_ms,
                                         bool freeze, pid_t* opener_pid) {
    auto cwtrace = start_cwtrace({"--min-age", "1s", "-f", "json", "--user-stacks", mode});
    if (!cwtrace) return {};
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    if (freeze) cwtrace->signal(SIGSTOP);  // the kernel side records; userspace reads nothing
    Process opener({FX_QUICK_OPENER, "-p", std::to_string(port), "-n", "2", "-l", linger_ms});
    *opener_pid = opener.pid();
    auto keeper_line = opener.wait_line("keeper ", 5s);
    const Terminated keeper{keeper_line ? number_after_space(*keeper_line) : 0};
    EXPECT_EQ(opener.wait(5s), std::optional<int>(0)) << "the opener exits";
    if (freeze) cwtrace->signal(SIGCONT);
    EXPECT_TRUE(keeper_line) << opener.err();
    std::this_thread::sleep_for(1500ms);
    const json report = stop_with_report(*cwtrace);

    const auto leaked = sockets_with_port(report, "remote", port);
    EXPECT_EQ(leaked.size(), 2u) << report.dump(2);
    for (const auto& s : leaked) {
        EXPECT_EQ(s.at("pid"), keeper.pid);
        EXPECT_EQ(s.at("origin").at("pid"), opener.pid());
        EXPECT_TRUE(contains(function_names(s.at("origin").at("kernel_stack")), "tcp_v4_connect"));
    }
    return leaked;
}

class ClaimsExitedOpener : public ::testing::TestWithParam<std::string> {};

// "Mappings are read when the opener's first socket reaches userspace, so an opener that has
// exited still resolves": it lingers past the consumer's 100 ms drain, then exits.
TEST_P(ClaimsExitedOpener, OpenerGoneAfterItsFirstSocketWasReadStillResolves) {
    pid_t opener = 0;
    for (const auto& s : exited_openers_sockets(GetParam(), "500", false, &opener)) {
        EXPECT_TRUE(starts_with(s.at("origin").at("user_stack"), {{"connect", kLibc},
                                                                  {"open_leak", FX_QUICK_OPENER},
                                                                  {"dial", FX_QUICK_OPENER},
                                                                  {"main", FX_QUICK_OPENER}}));
        EXPECT_TRUE(own_frame_is(s.at("origin"), "open_leak"));
    }
}

// One gone before userspace read anything (cwtrace stopped meanwhile) keeps its pid and kernel
// path; its user frames, which nothing can resolve any more, are never guessed: "[exited]" for
// each address recorded.
TEST_P(ClaimsExitedOpener, OpenerGoneBeforeAnythingWasReadIsSaidToHaveExited) {
    pid_t opener = 0;
    for (const auto& s : exited_openers_sockets(GetParam(), "0", true, &opener)) {
        const auto user = function_names(s.at("origin").at("user_stack"));
        EXPECT_FALSE(user.empty());
        for (const auto& name : user) EXPECT_EQ(name, "[exited]") << joined(user);
    }
}

INSTANTIATE_TEST_SUITE_P(UserStacks, ClaimsExitedOpener, ::testing::Values("dwarf", "fp"));

// Runs `command` in a mount namespace of its own where tracefs (and debugfs, which carries it
// too) is unmounted: the machine's mounts, which other tests need, stay as they are.
std::unique_ptr<Process> without_tracefs(std::vector<std::string> command) {
    std::vector<std::string> argv = {
        "/usr/bin/unshare",
        "--mount",
        "--propagation",
        "private",
        "/bin/sh",
        "-c",
        "for m in /sys/kernel/debug/tracing /sys/kernel/debug /sys/kernel/tracing; do "
        "  if mountpoint -q \"$m\"; then umount \"$m\" || exit 99; fi; done; "
        "if [ -e /sys/kernel/tracing/events ] || [ -e /sys/kernel/debug/tracing/events ]; then "
        "  exit 98; fi; "
        "exec \"$0\" \"$@\""};
    argv.insert(argv.end(), command.begin(), command.end());
    return std::make_unique<Process>(argv);
}

// "If tracefs is not mounted, cwtrace mounts it at /sys/kernel/tracing and says so", then
// traces: a leak made afterwards is reported with its opener.
TEST(Claims, MountsTracefsWhenNobodyHas) {
    const TracefsRestored restore;
    auto cwtrace = without_tracefs({CWTRACE_BIN, "--min-age", "1s", "-f", "json"});
    if (!cwtrace->wait_stderr("tracing TCP", 20s)) {
        const auto code = cwtrace->wait(2s);
        if (code == 98 || code == 99) FAIL() << "could not unmount tracefs here";
        return skip_or_fail("cwtrace did not start: " + cwtrace->err());
    }
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    Process client({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "1"});
    ASSERT_TRUE(client.wait_line("ready", 5s)) << client.err();
    std::this_thread::sleep_for(1500ms);
    const json report = stop_with_report(*cwtrace);

    const std::string said = "tracefs was not mounted: mounted it at /sys/kernel/tracing\n";
    EXPECT_EQ(occurrences(cwtrace->err(), said), 1u) << cwtrace->err();
    const auto leaked = sockets_with_port(report, "remote", port);
    ASSERT_EQ(leaked.size(), 1u) << report.dump(2);
    EXPECT_EQ(leaked[0].at("origin").at("kind"), "connect");
    EXPECT_EQ(leaked[0].at("origin").at("pid"), client.pid());
}

// The README: "kernel threads and io_uring workers are always walked" (the kernel path of a
// connect() is otherwise reused per user path). A connect io_uring makes inside io_uring_enter()
// and one it makes in an io-wq worker are both attributed to the process, each with its own
// kernel path.
TEST(Claims, ConnectsThroughIoUringAreAttributedWithTheirOwnKernelPaths) {
    auto cwtrace = start_cwtrace({"--min-age", "1s", "-f", "json"});
    if (!cwtrace) return;
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    Process client({FX_URING_CLIENT, "-p", std::to_string(port), "-n", "2", "-a", "2"});
    ASSERT_TRUE(client.wait_line("ready", 5s)) << client.err();
    std::this_thread::sleep_for(1500ms);
    const json report = stop_with_report(*cwtrace);

    const auto leaked = sockets_with_port(report, "remote", port);
    ASSERT_EQ(leaked.size(), 4u) << report.dump(2);
    size_t inline_connects = 0, worker_connects = 0;
    for (const auto& s : leaked) {
        const json& origin = s.at("origin");
        EXPECT_EQ(s.at("pid"), client.pid());
        EXPECT_EQ(origin.at("kind"), "connect");
        EXPECT_EQ(origin.at("pid"), client.pid());
        const auto kernel = function_names(origin.at("kernel_stack"));
        if (origin.at("tid") == client.pid()) {
            ++inline_connects;
            EXPECT_EQ(origin.at("comm"), "uring_client");
            EXPECT_TRUE(in_order(kernel, {"tcp_v4_connect", "io_connect", "io_issue_sqe",
                                          "io_submit_sqes", "__do_sys_io_uring_enter"}))
                << joined(kernel);
            const auto user = function_names(origin.at("user_stack"));
            EXPECT_TRUE(in_order(user, {"uring_connect", "fetch_through_ring", "main"}))
                << joined(user);
            // The fixture's innermost function: the ring's code in it is the program's own.
            const json& stack = origin.at("user_stack");
            const auto own = std::find_if(stack.begin(), stack.end(), [](const json& f) {
                return f.value("module", "") ==
                       std::filesystem::canonical(FX_URING_CLIENT).string();
            });
            ASSERT_NE(own, stack.end()) << stack.dump();
            EXPECT_TRUE(own_frame_is(origin, own->value("function", "")));
        } else {
            ++worker_connects;
            EXPECT_EQ(origin.at("comm"), "iou-wrk-" + std::to_string(client.pid()));
            EXPECT_TRUE(in_order(kernel, {"tcp_v4_connect", "io_connect", "io_issue_sqe",
                                          "io_wq_submit_work", "io_wq_worker"}))
                << joined(kernel);
            EXPECT_FALSE(contains(kernel, "__do_sys_io_uring_enter")) << joined(kernel);
        }
    }
    EXPECT_EQ(inline_connects, 2u);
    EXPECT_EQ(worker_connects, 2u);
    EXPECT_TRUE(nothing_dropped(report.at("stats")));
}

// The README (Limits): accept() through io_uring is not attributed. IORING_OP_ACCEPT returns
// its socket with no accept()/accept4() syscall, whose exit is where an acceptor is recorded:
// the socket is reported with its opener unknown; owned by the process when it was accepted
// before the peer closed, with no owner when it entered CLOSE_WAIT before any process held it
// (then it had no inode, by which holders are matched). An accept4() by the same process in the
// same run is attributed, so a dead accept program cannot pass.
TEST(Claims, AcceptsThroughIoUringAreNotAttributed) {
    auto cwtrace = start_cwtrace({"--min-age", "1s", "-f", "json"});
    if (!cwtrace) return;
    Process server({FX_URING_SERVER, "-n", "2", "-b", "1", "-m", "1"});
    const int port = announced_port(server);
    ASSERT_TRUE(server.wait_line("ready", 5s)) << server.err();
    std::this_thread::sleep_for(1500ms);
    const json report = stop_with_report(*cwtrace);

    const auto leaked = sockets_with_port(report, "local", port);
    ASSERT_EQ(leaked.size(), 4u) << report.dump(2);
    size_t owned = 0, unowned = 0, accepted = 0;
    for (const auto& s : leaked) {
        const json& origin = s.at("origin");
        if (origin.at("kind") == "unknown") {
            EXPECT_TRUE(origin.at("pid").is_null()) << s.dump(2);
            if (s.at("pid").is_null()) {
                ++unowned;
            } else {
                ++owned;
                EXPECT_EQ(s.at("pid"), server.pid()) << s.dump(2);
            }
            continue;
        }
        ++accepted;
        EXPECT_EQ(s.at("pid"), server.pid()) << s.dump(2);
        EXPECT_EQ(origin.at("kind"), "accept") << s.dump(2);
        EXPECT_EQ(origin.at("pid"), server.pid()) << s.dump(2);
        EXPECT_TRUE(starts_with_chain(function_names(origin.at("user_stack")),
                                      {"accept4", "plain_accept", "main"}));
        EXPECT_TRUE(own_frame_is(origin, "plain_accept"));
    }
    EXPECT_EQ(owned, 2u) << "accepted through io_uring, then the peer closed";
    EXPECT_EQ(unowned, 1u) << "the peer closed, then accepted through io_uring";
    EXPECT_EQ(accepted, 1u) << "the accept4()";
}

}  // namespace
