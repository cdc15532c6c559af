// Integration tests of late closes: who took a socket out of CLOSE_WAIT, how, after how
// long, and the time in CLOSE_WAIT per opening path. Real BPF, the leaky_client fixture and
// sockets of this test's children on loopback; assertions on the JSON report and its text
// rendering.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>
#include <vector>

#include "harness.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// The late-close groups with a socket to `port`, and that socket.
std::vector<std::pair<json, json>> late_closes_to(const json& report, int port) {
    std::vector<std::pair<json, json>> out;
    for (const auto& g : report.at("late_closes"))
        for (const auto& s : g.at("sockets"))
            if (s.at("remote").at("port").get<int>() == port) out.emplace_back(g, s);
    return out;
}

// Histograms of the opening paths whose user stack has `function`.
std::vector<json> durations_through(const json& report, const std::string& function) {
    std::vector<json> out;
    for (const auto& d : report.at("close_wait_durations"))
        if (contains(function_names(d.at("opening").at("user_stack")), function)) out.push_back(d);
    return out;
}

// How a child takes its socket out of CLOSE_WAIT.
enum class Leave {
    Abort,              // SO_LINGER 0, then close(): the process resets the connection
    WriteToClosedPeer,  // the peer has closed for good and answers data with a reset
    StallUntilTimeout,  // the peer's window stays shut: the kernel's probe timer gives up
};

int tcp_state(int fd) {
    tcp_info info = {};
    socklen_t len = sizeof info;
    return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 ? info.tcpi_state : -1;
}

// The body of a child (system calls only: it was forked from a threaded process). It connects
// to `port`, waits for the peer's FIN (CLOSE_WAIT) and 1.2 s more (past --min-age 1s), leaves
// CLOSE_WAIT `how`, writes a byte to `done` once its socket is closed, and waits to be killed.
[[noreturn]] void leave_close_wait_later(int port, Leave how, int done) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    pollfd peer_closed = {fd, POLLRDHUP, 0};
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) ||
        poll(&peer_closed, 1, 5000) != 1)
        _exit(1);
    usleep(1'200'000);
    char data[4096] = {};
    switch (how) {
        case Leave::Abort: {
            const linger abort_on_close = {1, 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
            close(fd);
            break;
        }
        case Leave::WriteToClosedPeer:
            send(fd, data, 1, MSG_NOSIGNAL);
            break;
        case Leave::StallUntilTimeout: {
            // Zero-window probes unanswered by an opening window for 500 ms end the connection,
            // from the timer (no process); fill the peer's window and our send buffer first.
            const int timeout_ms = 500;
            setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout_ms, sizeof timeout_ms);
            fcntl(fd, F_SETFL, O_NONBLOCK);
            while (send(fd, data, sizeof data, MSG_NOSIGNAL) > 0) {
            }
            break;
        }
    }
    for (int i = 0; how != Leave::Abort && tcp_state(fd) != TCP_CLOSE; ++i) {
        if (i == 1000) _exit(1);
        usleep(10'000);
    }
    if (write(done, "d", 1) != 1) _exit(1);
    pause();
    _exit(0);
}

// Children killed when the test ends.
struct Children {
    std::vector<pid_t> pids;
    ~Children() {
        for (pid_t pid : pids) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
    }
};

// A loopback listener whose accepted sockets have a receive buffer of a few KiB.
int small_window_listener(int& port) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int bytes = 2048;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) || listen(fd, 1) ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len)) {
        close(fd);
        return -1;
    }
    port = ntohs(addr.sin_port);
    return fd;
}

uint64_t count_where(const json& durations, bool (*pick)(const json& bucket)) {
    uint64_t n = 0;
    for (const auto& b : durations.at("buckets"))
        if (pick(b)) n += b.at("count").get<uint64_t>();
    return n;
}

}  // namespace

// One fixture closes its idle connection from reap_idle_connections() 3 s after the peer closed;
// another is still holding its own when it exits. Healthy connections of the same program close
// at once. The report names each late closer, how it closed, its stack and how long it waited.
TEST(LateCloses, WhoClosedHowAndAfterHowLong) {
    auto cwtrace = start_cwtrace({"--min-age", "1s", "-f", "json"});
    if (!cwtrace) return;
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    ASSERT_NE(port, 0);

    Process exiter({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "1"});
    ASSERT_TRUE(exiter.wait_line("ready", 5s)) << exiter.err();
    const auto exiter_ready = std::chrono::steady_clock::now();
    Process reaper({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "1", "-g", "20", "-c", "3"});
    ASSERT_TRUE(reaper.wait_line("ready", 5s)) << reaper.err();
    std::this_thread::sleep_for(2s);
    const double exiter_waited = seconds_since(exiter_ready);
    exiter.signal(SIGTERM);  // returns from main: its socket is closed by exit
    ASSERT_EQ(exiter.wait(5s), std::optional<int>(0));
    ASSERT_TRUE(reaper.wait_line("closed", 5s)) << reaper.err();
    std::this_thread::sleep_for(300ms);

    ASSERT_EQ(stop(*cwtrace), std::optional<int>(0)) << cwtrace->err();
    const json report = json::parse(cwtrace->out());
    expect_schema_valid(cwtrace->out());
    const auto late = late_closes_to(report, port);
    ASSERT_EQ(late.size(), 2u) << report.at("late_closes").dump(2);

    bool saw_reaper = false, saw_exiter = false;
    for (const auto& [group, socket] : late) {
        const json& closing = group.at("closing");
        const auto opening = function_names(group.at("opening").at("user_stack"));
        EXPECT_TRUE(contains(opening, "fetch_page")) << joined(opening);
        EXPECT_EQ(socket.at("comm"), "leaky_client");
        if (closing.at("pid") == reaper.pid()) {
            saw_reaper = true;
            EXPECT_EQ(closing.at("kind"), "close");
            EXPECT_EQ(closing.at("tid"), reaper.pid());
            EXPECT_EQ(closing.at("comm"), "leaky_client");
            EXPECT_EQ(socket.at("closer").at("pid"), reaper.pid());
            const auto user = function_names(closing.at("user_stack"));
            EXPECT_TRUE(contains(user, "reap_idle_connections")) << joined(user);
            EXPECT_TRUE(contains(user, "main")) << joined(user);
            const auto kernel = function_names(closing.at("kernel_stack"));
            EXPECT_TRUE(contains(kernel, "tcp_close") || contains(kernel, "__tcp_close"))
                << joined(kernel);
            const double waited = socket.at("close_wait_seconds").get<double>();
            // sleep(3) after the peer's FIN, then scheduling: a range, not a value.
            EXPECT_GE(waited, 2.9);
            EXPECT_LE(waited, 4.0);
        } else {
            saw_exiter = true;
            EXPECT_EQ(closing.at("kind"), "exit") << group.dump(2);
            EXPECT_EQ(closing.at("pid"), exiter.pid());
            EXPECT_EQ(socket.at("closer").at("pid"), exiter.pid());
            const double waited = socket.at("close_wait_seconds").get<double>();
            EXPECT_GE(waited, exiter_waited - 0.05);
            EXPECT_LE(waited, exiter_waited + 1.0);
        }
    }
    EXPECT_TRUE(saw_reaper && saw_exiter) << report.at("late_closes").dump(2);

    // Healthy closes (read to EOF, close at once) in sub-millisecond buckets; the late path's in
    // the seconds.
    const auto healthy = durations_through(report, "fetch_page_properly");
    ASSERT_EQ(healthy.size(), 1u) << report.at("close_wait_durations").dump(2);
    const uint64_t sub_ms = count_where(healthy[0], [](const json& b) {
        return !b.at("upper_us").is_null() && b.at("upper_us").get<uint64_t>() <= 1024;
    });
    EXPECT_EQ(healthy[0].at("count").get<uint64_t>(), 20u) << "the reaper's -g 20";
    // "Most", not all: a close is under 1 ms unless the 2-core machine is busy elsewhere.
    EXPECT_GE(sub_ms * 10, healthy[0].at("count").get<uint64_t>() * 9)
        << "most healthy closes under 1 ms: " << healthy[0].dump(2);
    uint64_t leaky_in_seconds = 0;
    for (const auto& d : durations_through(report, "crawl"))
        leaky_in_seconds += count_where(d, [](const json& b) {
            return b.at("lower_us").get<uint64_t>() >= 1'000'000 && !b.at("upper_us").is_null() &&
                   b.at("upper_us").get<uint64_t>() <= 8'388'608;
        });
    EXPECT_EQ(leaky_in_seconds, 2u)
        << "the reaper's and the exiter's: " << report.at("close_wait_durations").dump(2);

    // The saved report renders as text with its late closes and histograms (render round trip).
    const std::string path = ::testing::TempDir() + "cwtrace-lateclose.json";
    std::ofstream(path) << cwtrace->out();
    RunResult text = run_command({CWTRACE_BIN, "render", path, "-f", "text"}, 10s);
    ASSERT_EQ(text.exit_code, 0) << text.err;
    for (const std::string& needle :
         {std::string("Late closes"), std::string("reap_idle_connections"),
          std::string("closed by its process exiting"), std::string("distribution")})
        EXPECT_NE(text.out.find(needle), std::string::npos) << needle << " in:\n" << text.out;
}

// Healthy closes' quick leaves go through a ring per CPU, and through the ring buffer when that
// ring is full: with rings of one record (CWTRACE_QUICK_RING_SLOTS=1) most take the ring buffer,
// and every one is still counted once in the durations, none twice.
TEST(LateCloses, EveryHealthyCloseCountedOnceWhenTheQuickRingsOverflow) {
    auto cwtrace =
        start_cwtrace({"--min-age", "30s", "-f", "json"}, {"CWTRACE_QUICK_RING_SLOTS=1"});
    if (!cwtrace) return;
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    ASSERT_NE(port, 0);
    Process client({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "0", "-g", "400"});
    ASSERT_TRUE(client.wait_line("ready", 20s)) << client.err();
    std::this_thread::sleep_for(300ms);

    ASSERT_EQ(stop(*cwtrace), std::optional<int>(0)) << cwtrace->err();
    const json report = json::parse(cwtrace->out());
    const auto healthy = durations_through(report, "fetch_page_properly");
    ASSERT_EQ(healthy.size(), 1u) << report.at("close_wait_durations").dump(2);
    EXPECT_EQ(healthy[0].at("count").get<uint64_t>(), 400u) << healthy[0].dump(2);
    EXPECT_EQ(report.at("stats").at("lost_events").get<uint64_t>(), 0u);
}

// The two ways out of CLOSE_WAIT not taken by close() or exit, live: a reset (sent by the
// process: SO_LINGER 0; received from the peer: data to a peer that has closed) and the kernel
// tearing the connection down with no process (TCP_USER_TIMEOUT on zero-window probes to a peer
// that keeps its window shut). Only the process's own reset has a closer.
TEST(LateCloses, ResetByTheProcessByThePeerAndTimeoutByTheKernel) {
    auto cwtrace = start_cwtrace({"--min-age", "1s", "-f", "json"});
    if (!cwtrace) return;
    Process abort_peer({FX_PEER, "-l"});
    Process closed_peer({FX_PEER, "-l"});
    const int abort_port = announced_port(abort_peer);
    const int reset_port = announced_port(closed_peer);
    int stall_port = 0;
    const int stalling = small_window_listener(stall_port);
    ASSERT_GE(stalling, 0) << std::strerror(errno);
    ASSERT_NE(abort_port, 0);
    ASSERT_NE(reset_port, 0);

    int done[2];
    ASSERT_EQ(pipe2(done, O_CLOEXEC), 0);
    Children children;
    const std::pair<int, Leave> ways[] = {{abort_port, Leave::Abort},
                                          {reset_port, Leave::WriteToClosedPeer},
                                          {stall_port, Leave::StallUntilTimeout}};
    for (const auto& [port, how] : ways) {
        const pid_t child = fork();
        ASSERT_GE(child, 0);
        if (child == 0) leave_close_wait_later(port, how, done[1]);
        children.pids.push_back(child);
    }
    // The stalling peer: half-closes (its FIN puts the child in CLOSE_WAIT), never reads.
    pollfd incoming = {stalling, POLLIN, 0};
    ASSERT_EQ(poll(&incoming, 1, 5000), 1);
    const int stalled = accept(stalling, nullptr, nullptr);
    ASSERT_GE(stalled, 0);
    ASSERT_EQ(shutdown(stalled, SHUT_WR), 0);
    for (size_t i = 0; i < std::size(ways); ++i) {
        pollfd ready = {done[0], POLLIN, 0};
        char byte;
        ASSERT_EQ(poll(&ready, 1, 10'000), 1) << i << " of 3 children done";
        ASSERT_EQ(read(done[0], &byte, 1), 1);
    }
    std::this_thread::sleep_for(300ms);
    ASSERT_EQ(stop(*cwtrace), std::optional<int>(0)) << cwtrace->err();
    const json report = json::parse(cwtrace->out());
    close(stalled);
    close(stalling);
    close(done[0]);
    close(done[1]);

    const struct {
        int port;
        pid_t child;
        const char* kind;
        bool has_closer;
    } expected[] = {{abort_port, children.pids[0], "reset", true},
                    {reset_port, children.pids[1], "reset", false},
                    {stall_port, children.pids[2], "kernel", false}};
    for (const auto& e : expected) {
        SCOPED_TRACE(std::string(e.kind) + " to port " + std::to_string(e.port));
        const auto late = late_closes_to(report, e.port);
        ASSERT_EQ(late.size(), 1u) << report.at("late_closes").dump(2);
        const auto& [group, socket] = late[0];
        EXPECT_EQ(group.at("opening").at("kind"), "connect");
        EXPECT_EQ(socket.at("pid"), e.child) << "its opener, or its closer";
        EXPECT_EQ(group.at("closing").at("kind"), e.kind) << group.dump(2);
        const json closer_pid = e.has_closer ? json(e.child) : json(nullptr);
        EXPECT_EQ(group.at("closing").at("pid"), closer_pid) << group.dump(2);
        EXPECT_EQ(socket.at("closer").at("pid"), closer_pid) << socket.dump(2);
    }

    const std::string path = ::testing::TempDir() + "cwtrace-closekinds.json";
    std::ofstream(path) << cwtrace->out();
    RunResult text = run_command({CWTRACE_BIN, "render", path, "-f", "text"}, 10s);
    ASSERT_EQ(text.exit_code, 0) << text.err;
    for (const char* how : {"aborted by the process (reset sent)", "reset by the peer",
                            "torn down by the kernel (timeout, no process)"})
        EXPECT_NE(text.out.find(how), std::string::npos) << how << " in:\n" << text.out;
    std::remove(path.c_str());
}
