// Integration tests: the real BPF programs, real CLOSE_WAIT sockets on loopback made by the
// fixture programs, assertions on cwtrace's report. They need root. With CWTRACE_REQUIRE_BPF=1
// (as in CI) a test that cannot load BPF fails; otherwise it is skipped with the reason.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "harness.h"
#include "leak_checks.h"
#include "profile.pb.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

class Integration : public ::testing::Test {};

// Each leak test runs with the programs the kernel takes (on this kernel, reading socket fields
// by plain loads) and with their twins for kernels before 6.2 (through bpf_probe_read_kernel()).
struct Variant {
    bool inet6;
    bool probed_reads;
};

std::string variant_name(const ::testing::TestParamInfo<Variant>& info) {
    return std::string(info.param.inet6 ? "IPv6" : "IPv4") +
           (info.param.probed_reads ? "ProbedReads" : "");
}

const auto kVariants = ::testing::Values(Variant{false, false}, Variant{true, false},
                                         Variant{false, true}, Variant{true, true});

// cwtrace with `args`, made to load the probed programs when the variant says so.
std::unique_ptr<Process> start_variant(const Variant& variant, std::vector<std::string> args) {
    if (!variant.probed_reads) return start_cwtrace(std::move(args));
    args.push_back("-v");
    return start_cwtrace(std::move(args), {"CWTRACE_PROBED_READS=1"});
}

// The variant cwtrace said it loaded (with -v), when it was asked for the probed one.
void expect_variant_loaded(const Variant& variant, const Process& cwtrace) {
    if (!variant.probed_reads) return;
    EXPECT_NE(cwtrace.err().find("kernel fields read through bpf_probe_read_kernel()"),
              std::string::npos)
        << cwtrace.err();
}

class ConnectLeak : public Integration, public ::testing::WithParamInterface<Variant> {};

// The FIN that moves the client's socket into CLOSE_WAIT is processed in the peer's context on
// loopback: a tool attributing by the pid current at that transition blames the peer (bcc#2304).
TEST_P(ConnectLeak, AttributedToTheConnectingProcessNeverThePeer) {
    const bool inet6 = GetParam().inet6;
    auto cwtrace = start_variant(GetParam(), {"--min-age", "1s", "-f", "json"});
    if (!cwtrace) return;

    std::vector<std::string> peer_args = {FX_PEER, "-l"};
    if (inet6) peer_args.push_back("-6");
    Process peer(peer_args);
    auto port_line = peer.wait_line("port ", 5s);
    ASSERT_TRUE(port_line);
    const int port = number_after_space(*port_line);

    std::vector<std::string> client_args = {
        FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "3", "-g", "2"};
    if (inet6) client_args.push_back("-6");
    Process client(client_args);
    ASSERT_TRUE(client.wait_line("ready", 5s)) << client.err();
    std::this_thread::sleep_for(1500ms);

    json report = stop_with_report(*cwtrace);
    auto leaked = sockets_with_port(report, "remote", port);
    ASSERT_EQ(leaked.size(), 3u) << "3 leaked, 2 healthy: " << report.dump(2);
    for (const auto& s : leaked) {
        EXPECT_EQ(s.at("pid"), client.pid())
            << "owner must be the client, not the peer " << peer.pid();
        EXPECT_EQ(s.at("comm"), "leaky_client");
        EXPECT_EQ(s.at("family"), inet6 ? "inet6" : "inet");
        EXPECT_EQ(s.at("remote").at("addr"), inet6 ? "::1" : "127.0.0.1");
        EXPECT_GE(s.at("close_wait_seconds").get<double>(), 1.0);
        EXPECT_EQ(s.at("before_start"), false);
        const json& origin = s.at("origin");
        EXPECT_EQ(origin.at("kind"), "connect");
        EXPECT_EQ(origin.at("pid"), client.pid());
        EXPECT_EQ(origin.at("tid"), client.pid());
        EXPECT_EQ(origin.at("comm"), "leaky_client");
        EXPECT_TRUE(innermost_in_libc(origin.at("user_stack"), "connect"));
        EXPECT_TRUE(
            starts_with_chain(function_names(origin.at("user_stack")),
                              {"connect", "open_connection", "fetch_page", "crawl", "main"}));
        auto kernel = function_names(origin.at("kernel_stack"));
        EXPECT_TRUE(in_order(kernel, {inet6 ? "tcp_v6_connect" : "tcp_v4_connect"}))
            << joined(kernel);
        EXPECT_TRUE(own_frame_is(origin, "open_connection"));
        EXPECT_TRUE(symbolizable_later(origin, FX_LEAKY_CLIENT,
                                       "1eac0c11e47b01d1d0000000000000000000c0de"));
    }
    EXPECT_TRUE(nothing_dropped(report.at("stats")));
    expect_variant_loaded(GetParam(), *cwtrace);
}

INSTANTIATE_TEST_SUITE_P(Families, ConnectLeak, kVariants, variant_name);

class AcceptLeak : public Integration, public ::testing::WithParamInterface<Variant> {};

// The accepting thread (named, not the main one) is the origin of an accepted socket, its
// process the owner; both peers close before accept() even runs.
TEST_P(AcceptLeak, AttributedToTheAcceptingThreadEvenWhenPeerClosedFirst) {
    const bool inet6 = GetParam().inet6;
    auto cwtrace = start_variant(GetParam(), {"--min-age", "1s", "-f", "json"});
    if (!cwtrace) return;

    std::vector<std::string> server_args = {FX_LEAKY_SERVER, "-n", "2", "-a", "1", "-t",
                                            "acceptor"};
    if (inet6) server_args.push_back("-6");
    Process server(server_args);
    auto port_line = server.wait_line("port ", 5s);
    ASSERT_TRUE(port_line);
    const int port = number_after_space(*port_line);

    // Both connections are closed by the peer before the server's delayed accept().
    std::vector<std::string> peer_args = {FX_PEER, "-p", std::to_string(port), "-n", "2"};
    if (inet6) peer_args.push_back("-6");
    Process peer(peer_args);
    ASSERT_TRUE(peer.wait_line("done", 5s)) << peer.err();
    const pid_t tid = announced_tid(server);
    ASSERT_TRUE(server.wait_line("ready", 5s)) << server.err();
    std::this_thread::sleep_for(1200ms);

    json report = stop_with_report(*cwtrace);
    auto leaked = sockets_with_port(report, "local", port);
    ASSERT_EQ(leaked.size(), 2u) << report.dump(2);
    for (const auto& s : leaked) {
        EXPECT_EQ(s.at("family"), inet6 ? "inet6" : "inet");
        expect_opened_by_thread(s, server.pid(), tid, "acceptor", "accept");
        const json& stack = s.at("origin").at("user_stack");
        EXPECT_TRUE(innermost_in_libc(stack, "accept4"));
        // In the fp variant too (the harness's CWTRACE_TEST_USER_STACKS), the wrapper's caller
        // is found above the stack pointer that accept4() moved in this threaded process.
        EXPECT_TRUE(starts_with_chain(function_names(stack),
                                      {"accept4", "accept_connection", "handle_client", "serve",
                                       "serve_in_thread", "named_thread_main"}));
        EXPECT_TRUE(own_frame_is(s.at("origin"), "accept_connection"));
        EXPECT_GE(s.at("close_wait_seconds").get<double>(), 1.0);
    }
    expect_variant_loaded(GetParam(), *cwtrace);
}

INSTANTIATE_TEST_SUITE_P(Families, AcceptLeak, kVariants, variant_name);

// A socket closed after a while leaves CLOSE_WAIT and must disappear from the report; sockets
// younger than --min-age are not shown; --duration ends the run by itself with exit 0. In both
// runs a socket that stays stuck long enough (the keeper's) is shown: a dead trace cannot pass.
TEST_F(Integration, ClosedAndYoungSocketsAreAbsent) {
    auto cwtrace = start_cwtrace({"--min-age", "0s", "-f", "json", "-d", "4s"});
    if (!cwtrace) return;
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    Process closer({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "2", "-c", "1"});
    Process keeper({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "1"});
    ASSERT_TRUE(keeper.wait_line("ready", 5s)) << keeper.err();
    ASSERT_TRUE(closer.wait_line("closed", 5s)) << closer.err();

    // Only the keeper's socket, which the trace saw enter CLOSE_WAIT.
    const auto expect_only_the_keepers = [&](const json& report, bool before_start) {
        const auto stuck = sockets_with_port(report, "remote", port);
        ASSERT_EQ(stuck.size(), 1u) << report.dump(2);
        EXPECT_EQ(stuck[0].at("pid"), keeper.pid()) << report.dump(2);
        EXPECT_EQ(stuck[0].at("before_start"), before_start) << report.dump(2);
    };
    auto code = cwtrace->wait(15s);
    ASSERT_EQ(code, std::optional<int>(0)) << cwtrace->err();
    json report = json::parse(cwtrace->out());
    expect_only_the_keepers(report, false);
    EXPECT_GE(report.at("tracing_seconds").get<double>(), 4.0);

    // The keeper's socket is now over 3 s old; the new client's stays under 1.5 s.
    auto young = start_cwtrace({"--min-age", "2s", "-f", "json", "-d", "1500ms"});
    if (!young) return;
    Process client({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "1"});
    ASSERT_TRUE(client.wait_line("ready", 5s));
    ASSERT_EQ(young->wait(15s), std::optional<int>(0));
    expect_only_the_keepers(json::parse(young->out()), true);
}

TEST_F(Integration, PidFilterKeepsOnlyThatProcess) {
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    // `wanted` exists before cwtrace starts (so --pid can name it) and leaks once it is told
    // that cwtrace is attached.
    Process wanted({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "2", "-w", "20"});
    ASSERT_TRUE(wanted.wait_line("waiting", 5s));
    auto cwtrace =
        start_cwtrace({"--min-age", "1s", "-f", "json", "--pid", std::to_string(wanted.pid())});
    if (!cwtrace) return;
    wanted.signal(SIGUSR1);
    Process other({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "3"});
    ASSERT_TRUE(other.wait_line("ready", 5s));
    ASSERT_TRUE(wanted.wait_line("ready", 5s));
    std::this_thread::sleep_for(1500ms);
    json report = stop_with_report(*cwtrace);
    auto leaked = sockets_with_port(report, "remote", port);
    ASSERT_EQ(leaked.size(), 2u) << report.dump(2);
    for (const auto& s : report.at("sockets")) EXPECT_EQ(s.at("pid"), wanted.pid()) << s.dump();
}

// With --pid the kernel follows only sockets the selected process opens while tracing; its
// sockets found through sock_diag (no leave event comes for them) are reported while stuck and
// dropped once closed.
TEST_F(Integration, PidFilterDropsPreexistingSocketsOnceClosed) {
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    Process wanted({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "2", "-c", "4"});
    ASSERT_TRUE(wanted.wait_line("ready", 5s));
    auto cwtrace = start_cwtrace(
        {"--min-age", "0s", "-f", "json", "-i", "500ms", "--pid", std::to_string(wanted.pid())});
    if (!cwtrace) return;
    ASSERT_TRUE(wanted.wait_line("closed", 8s));
    std::this_thread::sleep_for(600ms);
    ASSERT_EQ(stop(*cwtrace), std::optional<int>(0)) << cwtrace->err();

    std::vector<size_t> counts;  // sockets of `wanted` in each report, in order
    std::istringstream lines(cwtrace->out());
    for (std::string line; std::getline(lines, line);) {
        if (line.empty()) continue;
        json report = json::parse(line);
        for (const auto& s : report.at("sockets")) EXPECT_EQ(s.at("pid"), wanted.pid());
        counts.push_back(sockets_with_port(report, "remote", port).size());
    }
    ASSERT_GE(counts.size(), 2u) << cwtrace->out();
    EXPECT_EQ(*std::max_element(counts.begin(), counts.end()), 2u) << "reported while stuck";
    EXPECT_EQ(counts.back(), 0u) << "dropped once closed:\n" << cwtrace->out();
}

// With --pid, a socket the peer closed before accept() is followed from accept() on.
TEST_F(Integration, PidFilterFollowsSocketAcceptedAfterPeerClosed) {
    Process server({FX_LEAKY_SERVER, "-n", "1", "-a", "4"});
    const int port = announced_port(server);
    auto cwtrace =
        start_cwtrace({"--min-age", "500ms", "-f", "json", "--pid", std::to_string(server.pid())});
    if (!cwtrace) return;
    Process peer({FX_PEER, "-p", std::to_string(port), "-n", "1"});
    ASSERT_TRUE(peer.wait_line("done", 5s)) << peer.err();
    ASSERT_TRUE(server.wait_line("ready", 5s)) << server.err();
    std::this_thread::sleep_for(900ms);
    json report = stop_with_report(*cwtrace);
    auto leaked = sockets_with_port(report, "local", port);
    ASSERT_EQ(leaked.size(), 1u) << report.dump(2);
    EXPECT_EQ(leaked[0].at("pid"), server.pid());
    EXPECT_EQ(leaked[0].at("origin").at("kind"), "accept");
    EXPECT_TRUE(
        starts_with_chain(function_names(leaked[0].at("origin").at("user_stack")),
                          {"accept4", "accept_connection", "handle_client", "serve", "main"}));
}

// --pid keeps "only sockets owned by this process", and the owner is the process that holds a
// socket now (README): a selected process's openings handed to another process (SCM_RIGHTS,
// its own copies closed) are not shown, though the kernel followed them; sockets another
// process opened and handed to a selected one are, found through sock_diag with no opener.
TEST_F(Integration, PidFilterShowsWhatTheProcessHoldsNowNotWhatItOpened) {
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    // Each opener forks its receiver at once, then opens 2 sockets once cwtrace is attached.
    Process gives_away({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "2", "-r", "-w", "30"});
    Process hands_over({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "2", "-r", "-w", "30"});
    auto away_line = gives_away.wait_line("receiver ", 5s);
    auto over_line = hands_over.wait_line("receiver ", 5s);
    ASSERT_TRUE(away_line && over_line) << gives_away.err() << hands_over.err();
    const pid_t unselected_receiver = number_after_space(*away_line);
    const pid_t selected_receiver = number_after_space(*over_line);
    auto cwtrace =
        start_cwtrace({"--min-age", "1s", "-f", "json", "--pid", std::to_string(gives_away.pid()),
                       "--pid", std::to_string(selected_receiver)});
    if (!cwtrace) return;
    for (Process* opener : {&gives_away, &hands_over}) {
        ASSERT_TRUE(opener->wait_line("waiting", 5s)) << opener->err();
        opener->signal(SIGUSR1);
    }
    ASSERT_TRUE(gives_away.wait_line("ready", 8s)) << gives_away.err();
    ASSERT_TRUE(hands_over.wait_line("ready", 8s)) << hands_over.err();
    std::this_thread::sleep_for(1500ms);

    json report = stop_with_report(*cwtrace);
    auto leaked = sockets_with_port(report, "remote", port);
    ASSERT_EQ(leaked.size(), 2u) << "the 2 the selected receiver holds, not the 2 the selected "
                                 << gives_away.pid() << " opened and gave to "
                                 << unselected_receiver << ": " << report.dump(2);
    for (const auto& s : report.at("sockets")) {
        EXPECT_EQ(s.at("pid"), selected_receiver) << s.dump(2);
        EXPECT_EQ(s.at("origin").at("kind"), "unknown") << "its opener was not selected";
    }
}

// The owner is whoever holds the socket now: here a child the opener handed it to before
// exiting. The opener's frames still resolve after it is gone.
TEST_F(Integration, OwnerFollowsHandOffAndExitedOpenerStillResolves) {
    auto cwtrace = start_cwtrace({"--min-age", "1s", "-f", "json"});
    if (!cwtrace) return;
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    Process opener({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "2", "-f"});
    auto child_line = opener.wait_line("child ", 5s);
    ASSERT_TRUE(child_line) << opener.err();
    const pid_t child = number_after_space(*child_line);
    ASSERT_EQ(opener.wait(5s), std::optional<int>(0)) << "the opener exits";
    std::this_thread::sleep_for(1200ms);

    json report = stop_with_report(*cwtrace);
    kill(child, SIGTERM);
    auto leaked = sockets_with_port(report, "remote", port);
    ASSERT_EQ(leaked.size(), 2u) << report.dump(2);
    for (const auto& s : leaked) {
        EXPECT_EQ(s.at("pid"), child);
        EXPECT_EQ(s.at("origin").at("pid"), opener.pid());
        EXPECT_TRUE(
            starts_with_chain(function_names(s.at("origin").at("user_stack")),
                              {"connect", "open_connection", "fetch_page", "crawl", "main"}));
    }
}

// A report piped into a reader that goes away (`cwtrace | head`) and SIGHUP end cleanly.
TEST_F(Integration, SighupEndsWithReport) {
    auto cwtrace = start_cwtrace({"-f", "json"});
    if (!cwtrace) return;
    ASSERT_EQ(stop(*cwtrace, SIGHUP), std::optional<int>(0)) << cwtrace->err();
    EXPECT_NO_THROW(json::parse(cwtrace->out()));
}

TEST(Errors, ClosedStdoutIsNotACrash) {
    const auto before = cwtrace_bpf_objects();
    // `head` exits after one byte; cwtrace keeps writing reports into the closed pipe.
    RunResult r =
        run_command({"/bin/bash", "-c",
                     std::string(CWTRACE_BIN) + " -f json -i 100ms -d 1s | head -c 1 >/dev/null; "
                                                "exit ${PIPESTATUS[0]}"},
                    20s);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(new_cwtrace_bpf_objects(before).empty());
}

// Maps sized too small on purpose: every origin and stack that could not be recorded is
// counted in lost_events and stated in the text report; the sockets are still reported. The
// opener map of one entry is a whole bucket of the opener table where there is one (seven
// entries): ten sockets overflow either.
TEST_F(Integration, FullMapsAreCountedAsLostNeverHidden) {
    constexpr size_t kLeaks = 10;
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    // The client exists first, so --pid keeps other processes' sockets out of the text.
    Process client(
        {FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", std::to_string(kLeaks), "-w", "20"});
    ASSERT_TRUE(client.wait_line("waiting", 5s));
    setenv("CWTRACE_ORIGIN_MAP_ENTRIES", "1", 1);
    setenv("CWTRACE_STACK_MAP_ENTRIES", "1", 1);
    auto cwtrace = start_cwtrace({"--min-age", "1s", "--pid", std::to_string(client.pid())});
    unsetenv("CWTRACE_ORIGIN_MAP_ENTRIES");
    unsetenv("CWTRACE_STACK_MAP_ENTRIES");
    if (!cwtrace) return;
    client.signal(SIGUSR1);  // attached: now the leaks
    ASSERT_TRUE(client.wait_line("ready", 5s));
    std::this_thread::sleep_for(1500ms);
    ASSERT_EQ(stop(*cwtrace), std::optional<int>(0)) << cwtrace->err();
    const std::string& text = cwtrace->out();
    EXPECT_NE(text.find("WARNING"), std::string::npos) << text;
    EXPECT_NE(text.find("origin map full"), std::string::npos) << text;
    EXPECT_NE(text.find("stacks not captured"), std::string::npos) << text;
    EXPECT_EQ(text.find(" 0 lost"), std::string::npos) << text;
    // Every socket of the client is listed whatever was lost about its origin.
    size_t lines = 0;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        const size_t arrow = line.find("->");  // "LOCAL -> REMOTE", columns padded
        if (arrow != std::string::npos &&
            line.find("127.0.0.1:" + std::to_string(port), arrow) != std::string::npos)
            ++lines;
    }
    EXPECT_EQ(lines, kLeaks) << text;
}

// Sockets already stuck when cwtrace starts: found through sock_diag, with their owner, an
// estimated age, and a diagnosis from the receive queue.
TEST_F(Integration, SocketsStuckBeforeStartAreReportedWithEstimateAndDiagnosis) {
    Process replying_peer({FX_PEER, "-l", "-s", "100"});
    const int port = announced_port(replying_peer);
    Process peer6({FX_PEER, "-l", "-6"});
    const int port6 = announced_port(peer6);
    Process eof_read({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "1"});
    Process unread({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "1", "-u"});
    Process client6({FX_LEAKY_CLIENT, "-p", std::to_string(port6), "-n", "1", "-6"});
    Process server({FX_LEAKY_SERVER, "-n", "1"});
    const int server_port = announced_port(server);
    Process closer({FX_PEER, "-p", std::to_string(server_port), "-n", "1"});
    for (Process* p : {&eof_read, &unread, &client6, &server})
        ASSERT_TRUE(p->wait_line("ready", 5s)) << p->err();
    const auto ready = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(2500ms);

    // `stuck_before` and `stuck_by_end`: how long since `ready` when cwtrace started and when it
    // had exited; the sockets went into CLOSE_WAIT a little before `ready`.
    const auto expect_stuck = [&](const json& report, double stuck_before, double stuck_by_end) {
        struct Expect {
            Process* owner;
            const char* side;
            int port;
            const char* diagnosis;
            const char* family;
        };
        for (const Expect& e : {Expect{&eof_read, "remote", port, "eof_read_not_closed", "inet"},
                                Expect{&unread, "remote", port, "unread_data", "inet"},
                                Expect{&client6, "remote", port6, "eof_read_not_closed", "inet6"},
                                Expect{&server, "local", server_port, "eof_not_read", "inet"}}) {
            std::vector<json> found;
            for (const auto& s : sockets_with_port(report, e.side, e.port))
                if (s.at("pid") == e.owner->pid()) found.push_back(s);
            ASSERT_EQ(found.size(), 1u) << e.diagnosis << "\n" << report.dump(2);
            const json& s = found[0];
            EXPECT_EQ(s.at("before_start"), true);
            EXPECT_EQ(s.at("family"), e.family);
            EXPECT_EQ(s.at("diagnosis"), e.diagnosis);
            EXPECT_EQ(s.at("origin").at("kind"), "unknown");
            // Told apart by the server's listening socket: its end was accepted, the clients' not.
            EXPECT_EQ(s.at("accepted"), std::string(e.side) == "local") << s.dump();
            // In CLOSE_WAIT since a little before `ready`: at least since cwtrace started, at
            // most since a second before `ready` to cwtrace's exit (bounds taken by the test's
            // clock, so that a slow start under load cannot move them).
            const double traced = report.at("tracing_seconds").get<double>();
            const double age = s.at("age_estimate_seconds").get<double>();
            EXPECT_GE(age, stuck_before - 0.01) << s.dump();
            EXPECT_LE(age, stuck_by_end + 1.0) << s.dump();
            EXPECT_LE(s.at("close_wait_seconds").get<double>(), traced + 0.001)
                << "never more than the truth";
            EXPECT_NE(s.at("owner").at("cmdline").get<std::string>().find("leaky_"),
                      std::string::npos);
        }
        for (const auto& s : sockets_with_port(report, "remote", port)) {
            if (s.at("pid") != unread.pid()) continue;
            EXPECT_EQ(s.at("recv_q"), 101) << "100 bytes + the FIN";
        }
    };

    // The first report (on stdout, at 300 ms) may use the facts and owners found at start; the
    // final one (in the file) dumps and scans again: both must say the same. Owners are found by
    // the BPF walk of the file tables (the default: it must have run), then by the /proc pass
    // it falls back to.
    char dir_template[] = "/tmp/cwtrace-backfill-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    const std::string path = std::string(dir_template) + "/final.json";
    for (const bool proc_pass : {false, true}) {
        SCOPED_TRACE(proc_pass ? "owners by the /proc pass" : "owners by the BPF walk");
        const double stuck_before =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - ready).count();
        auto cwtrace = start_cwtrace(
            {"--min-age", "1s", "-f", "json", "-i", "300ms", "-d", "1200ms", "-o", path, "-v"},
            proc_pass ? std::vector<std::string>{"CWTRACE_PROC_OWNERS=1"}
                      : std::vector<std::string>{});
        if (!cwtrace) return;
        ASSERT_EQ(cwtrace->wait(20s), std::optional<int>(0)) << cwtrace->err();
        const double stuck_by_end =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - ready).count();
        EXPECT_EQ(cwtrace->err().find("owners: BPF walk of") != std::string::npos, !proc_pass);
        const std::string first = cwtrace->out().substr(0, cwtrace->out().find('\n'));
        expect_schema_valid(first);
        for (const json& report : {json::parse(first), json::parse(slurp(path))})
            expect_stuck(report, stuck_before, stuck_by_end);
    }
    std::filesystem::remove_all(dir_template);
}

}  // namespace
