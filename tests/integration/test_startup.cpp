// The start-up race: sockets already in CLOSE_WAIT when cwtrace attaches are found by its
// sock_diag dump, sockets entering it later by the trace, and sockets entering it between the
// attach and the dump by both, reconciled by their flow. The window between the attach and the
// dump lasts microseconds; a seccomp filter holds cwtrace's first NETLINK_SOCK_DIAG socket() (the
// dump's, made after the attach) until the test has put sockets into CLOSE_WAIT inside it.
// Root, real BPF, a kernel with seccomp user notification (5.5+).
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "harness.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

#if defined(__x86_64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#else
#error "the dump gate's seccomp filter knows x86_64 and aarch64"
#endif

// socket(AF_NETLINK, *, NETLINK_SOCK_DIAG) waits for the supervisor; everything else runs.
// (The arguments' low 32 bits come first in seccomp_data on these little-endian machines.)
sock_filter kHoldSockDiag[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_NETLINK, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[2])),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NETLINK_SOCK_DIAG, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
};

// cwtrace started under that filter: its first sock_diag socket() is held until release(), then
// that one and every later one (each report's dumps) go on.
class DumpGate {
  public:
    ~DumpGate() {
        stop_ = true;
        if (responder_.joinable()) responder_.join();
        if (listener_ >= 0) close(listener_);
    }

    // The filter is installed in a thread of its own, which spawns cwtrace (a child inherits
    // the spawning thread's filter) and ends: no other thread of the test is filtered.
    std::unique_ptr<Process> start(std::vector<std::string> argv) {
        std::unique_ptr<Process> process;
        std::thread([&] {
            sock_fprog prog = {static_cast<unsigned short>(std::size(kHoldSockDiag)),
                               kHoldSockDiag};
            listener_ = static_cast<int>(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                                                 SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog));
            if (listener_ < 0) error_ = std::strerror(errno);
            if (listener_ >= 0) process = std::make_unique<Process>(std::move(argv));
        }).join();
        return process;
    }
    const std::string& error() const { return error_; }

    // Whether a sock_diag socket() is held now (waiting up to `timeout` for one).
    bool wait_held(std::chrono::milliseconds timeout) {
        pollfd p = {listener_, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(timeout.count())) != 1 || !(p.revents & POLLIN))
            return false;
        seccomp_notif notif = {};
        if (ioctl(listener_, SECCOMP_IOCTL_NOTIF_RECV, &notif) != 0) return false;
        held_ = notif.id;
        return true;
    }

    void release() {
        go_on(held_);
        responder_ = std::thread([this] {
            while (!stop_) {
                pollfd p = {listener_, POLLIN, 0};
                if (poll(&p, 1, 100) != 1) continue;
                if (!(p.revents & POLLIN)) break;  // no filtered process left
                seccomp_notif notif = {};
                if (ioctl(listener_, SECCOMP_IOCTL_NOTIF_RECV, &notif) == 0) go_on(notif.id);
            }
        });
    }

  private:
    void go_on(uint64_t id) {
        seccomp_notif_resp resp = {};
        resp.id = id;
        resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        ioctl(listener_, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    }

    int listener_ = -1;
    uint64_t held_ = 0;
    std::string error_;
    std::atomic<bool> stop_{false};
    std::thread responder_;
};

// The number in cwtrace's line "N sockets were already in CLOSE_WAIT", 0 when it said none.
int found_at_start(const std::string& err) {
    const auto at = err.find(" sockets were already in CLOSE_WAIT");
    if (at == std::string::npos) return 0;
    const auto from = err.find_last_not_of("0123456789", at - 1) + 1;
    return std::stoi(err.substr(from, at - from));
}

// Three clients leak to one peer: `before` while nothing traces (found by the dump only),
// `during` after the attach and before the dump (seen by both), `after` once cwtrace has
// started (the trace only). Each socket is reported once; only `before`'s are marked
// before_start, with no opener; the others carry their connect().
TEST(StartupRace, SocketsBeforeDuringAndAfterTheDumpAreEachReportedOnce) {
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    ASSERT_NE(port, 0);
    const std::map<std::string, int> leaks = {{"before", 3}, {"during", 4}, {"after", 5}};
    std::map<std::string, std::unique_ptr<Process>> clients;
    const auto leak = [&](const std::string& when) {
        clients[when] = std::make_unique<Process>(std::vector<std::string>{
            FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", std::to_string(leaks.at(when))});
        return clients[when]->wait_line("ready", 10s).has_value();
    };
    ASSERT_TRUE(leak("before"));

    DumpGate gate;
    auto cwtrace = gate.start({CWTRACE_BIN, "--min-age", "0s", "-f", "json"});
    ASSERT_TRUE(cwtrace) << "seccomp user notification: " << gate.error();
    if (!gate.wait_held(20s)) {
        if (cwtrace->wait(2s)) return skip_or_fail("cwtrace did not start: " + cwtrace->err());
        FAIL() << "cwtrace started without a sock_diag dump: " << cwtrace->err();
    }
    ASSERT_TRUE(leak("during"));
    gate.release();
    ASSERT_TRUE(cwtrace->wait_stderr("tracing TCP", 20s)) << cwtrace->err();
    ASSERT_TRUE(leak("after"));
    std::this_thread::sleep_for(300ms);
    const json report = stop_with_report(*cwtrace);

    // The dump counted `before`'s and `during`'s: at least, as it counts every socket in
    // CLOSE_WAIT on the machine, and other processes' come and go.
    EXPECT_GE(found_at_start(cwtrace->err()), leaks.at("before") + leaks.at("during"))
        << cwtrace->err();
    const auto leaked = sockets_with_port(report, "remote", port);
    std::set<int> local_ports;
    for (const auto& s : leaked) local_ports.insert(s.at("local").at("port").get<int>());
    EXPECT_EQ(leaked.size(), 12u) << report.dump(2);
    EXPECT_EQ(local_ports.size(), leaked.size()) << "a socket reported twice";
    for (const auto& [when, count] : leaks) {
        SCOPED_TRACE(when);
        const pid_t pid = clients.at(when)->pid();
        const bool before = when == "before";
        int found = 0;
        for (const auto& s : leaked) {
            if (s.at("pid") != pid) continue;
            ++found;
            EXPECT_EQ(s.at("before_start"), before) << s.dump();
            EXPECT_EQ(s.at("origin").at("kind"), before ? "unknown" : "connect") << s.dump();
            if (!before) {
                EXPECT_EQ(s.at("origin").at("pid"), pid) << s.dump();
            }
        }
        EXPECT_EQ(found, count) << report.dump(2);
    }
}

}  // namespace
