// Containers: sockets of processes in their own network namespace (invisible to a sock_diag dump
// in ours), and owners in their own pid and mount namespaces (both pids reported, their frames
// symbolized through /proc/PID/root). Root, real BPF, `unshare` from util-linux.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "harness.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

// Processes a test started indirectly (through a shell), killed when the test ends.
struct KillOnExit {
    std::vector<pid_t> pids;
    ~KillOnExit() {
        for (pid_t pid : pids)
            if (pid > 0) kill(pid, SIGKILL);
    }
};

class Containers : public ::testing::Test {};

// The only child of `pid` (unshare --fork's child), or 0.
pid_t only_child(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
    pid_t child = 0;
    in >> child;
    return child;
}

// A leaked socket of a process in its own network namespace, stuck before cwtrace starts: the
// dump from the host's namespace cannot see it, so it must be listed from inside that one.
TEST_F(Containers, SocketStuckInAnotherNetworkNamespaceIsFoundAtStart) {
    char dir[] = "/tmp/cwtrace-netns-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string port_file = std::string(dir) + "/port";
    // The peer and the client share the new namespace's loopback; the client exec()s so that its
    // pid is the one we spawned.
    const std::string script =
        "ip link set lo up || exit 1\n"
        "'" FX_PEER "' -l > '" +
        port_file +
        "' & echo \"peer $!\"\n"
        "until grep -q '^port ' '" +
        port_file +
        "'; do sleep 0.05; done\n"
        "exec '" FX_LEAKY_CLIENT "' -n 1 -p \"$(sed -n 's/^port //p' '" +
        port_file + "')\"\n";
    Process client({"/usr/bin/unshare", "--net", "/bin/sh", "-c", script});
    KillOnExit peer;
    auto peer_line = client.wait_line("peer ", 5s);
    ASSERT_TRUE(peer_line) << client.err();
    peer.pids.push_back(number_after_space(*peer_line));
    ASSERT_TRUE(client.wait_line("ready", 10s)) << client.err();
    std::ifstream port_in(port_file);
    std::string word;
    int port = 0;
    port_in >> word >> port;
    ASSERT_GT(port, 0);
    const auto ready = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(1500ms);

    const auto since_ready = [&] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - ready).count();
    };
    const double stuck_before = since_ready();
    auto cwtrace = start_cwtrace({"--min-age", "1s", "-f", "json"});
    if (!cwtrace) return;
    const json report = stop_with_report(*cwtrace);
    const double stuck_by_end = since_ready();
    std::vector<json> found;
    for (const auto& s : sockets_with_port(report, "remote", port))
        if (s.at("pid") == client.pid()) found.push_back(s);
    ASSERT_EQ(found.size(), 1u) << report.dump(2);
    const json& s = found[0];
    EXPECT_EQ(s.at("before_start"), true);
    EXPECT_EQ(s.at("diagnosis"), "eof_read_not_closed") << "its queues were read in its namespace";
    EXPECT_EQ(s.at("recv_q"), 0);
    // Stuck since a little before `ready`: the bounds by the test's clock, not by how long
    // cwtrace took to start (seconds under a loaded CI).
    const double age = s.at("age_estimate_seconds").get<double>();
    EXPECT_GE(age, stuck_before - 0.01) << s.dump();
    EXPECT_LE(age, stuck_by_end + 1.0) << s.dump();
    std::remove(port_file.c_str());
    rmdir(dir);
}

// A process in its own pid and mount namespaces (a container sharing the host's network): its
// socket is reported with the host's pid and its own, and its frames, from a binary that exists
// only inside its mount namespace, are symbolized through /proc/PID/root.
TEST_F(Containers, OwnerInItsOwnPidAndMountNamespaces) {
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    ASSERT_GT(port, 0);
    char dir[] = "/tmp/cwtrace-mntns-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string inside = std::string(dir) + "/containerized_client";
    auto cwtrace = start_cwtrace({"--min-age", "1s", "-f", "json"});
    if (!cwtrace) return;

    // A tmpfs over the (empty) directory, in the new mount namespace only: the host never sees
    // the binary at the path the process maps it from.
    const std::string script = "mount -t tmpfs cwtrace-test '" + std::string(dir) +
                               "' && cp '" FX_LEAKY_CLIENT "' '" + inside + "' && exec '" + inside +
                               "' -n 1 -p " + std::to_string(port) + "\n";
    Process container({"/usr/bin/unshare", "--pid", "--fork", "--kill-child", "--mount-proc",
                       "/bin/sh", "-c", script});
    ASSERT_TRUE(container.wait_line("ready", 10s)) << container.err();
    const pid_t host_pid = only_child(container.pid());
    ASSERT_GT(host_pid, 0);
    ASSERT_FALSE(std::ifstream(inside).good()) << "the binary must not be visible from the host";
    std::this_thread::sleep_for(1500ms);
    const json report = stop_with_report(*cwtrace);
    expect_schema_valid(cwtrace->out());

    const auto found = sockets_with_port(report, "remote", port);
    ASSERT_EQ(found.size(), 1u) << report.dump(2);
    const json& s = found[0];
    EXPECT_EQ(s.at("pid"), host_pid);
    EXPECT_EQ(s.at("owner").at("pid_in_namespace"), 1) << s.dump(2);
    EXPECT_EQ(s.at("before_start"), false);
    EXPECT_EQ(s.at("origin").at("kind"), "connect");
    std::vector<std::string> functions;
    bool module_inside = false;
    for (const auto& f : s.at("origin").at("user_stack")) {
        functions.push_back(f.at("function"));
        module_inside = module_inside || f.at("module") == inside;
    }
    EXPECT_TRUE(module_inside) << s.dump(2);
    for (const char* fn : {"open_connection", "fetch_page", "main"})
        EXPECT_NE(std::find(functions.begin(), functions.end(), fn), functions.end())
            << fn << " not symbolized: " << s.at("origin").dump(2);
    container.signal(SIGKILL);  // --kill-child takes the namespace's processes with it
    container.wait(5s);
    rmdir(dir);
}

}  // namespace
