// The socket filters (--port, --lport, --rport, --remote, --comm, --container, --cgroup, with
// --pid) on one mixed set of leaks: clients and servers, IPv4 and IPv6, two process names, some
// in CLOSE_WAIT before cwtrace starts (found by its sock_diag dump) and some after (seen by the
// kernel side, where ports and addresses are filtered), one server inside a container-shaped
// cgroup and one client beside it, and one server closing its sockets before the end (late
// closes). One cwtrace per filter, all tracing the same leaks at once: one setup for every case.
// Root, real BPF, a writable cgroup hierarchy for the container and cgroup cases.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "owners/process_info.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

const std::string kContainerId = "c0ffee" + std::string(58, 'a');  // 64 hex digits

// A cgroup made for the test (on cgroup v2, or the first v1 hierarchy /proc/self/cgroup lists,
// whose path cwtrace reports on such hosts), removed at the end once its processes are gone.
class TestCgroup {
  public:
    // The hierarchy's mount point, or "" when none is writable here.
    static std::string hierarchy() {
        if (access("/sys/fs/cgroup/cgroup.procs", W_OK) == 0) return "/sys/fs/cgroup";
        std::ifstream in("/proc/self/cgroup");
        std::string line;
        while (std::getline(in, line)) {
            // "ID:controllers:path"; "name=systemd" is mounted as "systemd".
            const size_t first = line.find(':'), second = line.find(':', first + 1);
            std::string controllers = line.substr(first + 1, second - first - 1);
            if (controllers.empty()) continue;
            if (controllers.starts_with("name=")) controllers.erase(0, 5);
            const std::string dir = "/sys/fs/cgroup/" + controllers;
            return access((dir + "/cgroup.procs").c_str(), W_OK) == 0 ? dir : "";
        }
        return "";
    }

    TestCgroup(const std::string& root, const std::string& path) : dir_(root + path) {
        created_ = mkdir(dir_.c_str(), 0755) == 0;
    }
    ~TestCgroup() {
        // Its processes were killed: rmdir succeeds once the kernel has let them go.
        for (int i = 0; i < 100 && rmdir(dir_.c_str()) != 0 && errno == EBUSY; ++i)
            std::this_thread::sleep_for(20ms);
    }
    bool created() const { return created_; }
    bool add(pid_t pid) const {
        std::ofstream procs(dir_ + "/cgroup.procs");
        procs << pid << std::flush;
        return procs.good();
    }

  private:
    std::string dir_;
    bool created_ = false;
};

class Filters : public ::testing::Test {};

// The setup's sockets by group, each told apart by one of its ports:
// A: a client's, before cwtrace, to 127.0.0.1:A (leaky_client)
// B: a server's, before cwtrace, on [::1]:B, in the container's cgroup (leaky_server)
// C: a client's, while tracing, to [::1]:C, in a cgroup beside the container's (leaky_client)
// D: a server's, while tracing, on 127.0.0.1:D (leaky_server)
// E: a client's, while tracing, to 127.0.0.1:E, closed (killed) before the report: a late close
struct Ports {
    int a = 0, b = 0, c = 0, d = 0, e = 0;
};

using Counts = std::map<char, int>;  // sockets per group; groups absent: none

char group_of(const json& s, const Ports& p) {
    const int local = s.at("local").at("port").get<int>();
    const int remote = s.at("remote").at("port").get<int>();
    if (remote == p.a) return 'A';
    if (local == p.b) return 'B';
    if (remote == p.c) return 'C';
    if (local == p.d) return 'D';
    if (remote == p.e) return 'E';
    return 0;  // not the setup's (another test's): judged by the filter alone
}

Counts count_groups(const json& sockets, const Ports& p) {
    Counts counts;
    for (const auto& s : sockets)
        if (char g = group_of(s, p)) ++counts[g];
    return counts;
}

std::string dump(const Counts& counts) {
    std::string out;
    for (const auto& [g, n] : counts) out += std::string(1, g) + "=" + std::to_string(n) + " ";
    return out;
}

// One case: cwtrace's filter arguments and the sockets of the setup it must report.
struct Case {
    std::string name;
    std::vector<std::string> args;
    Counts sockets;      // still in CLOSE_WAIT at the report
    Counts late_closes;  // closed during the run
    bool needs_cgroups = false;
    // Sockets the kernel noted in CLOSE_WAIT in its map (openers recorded: C and D), when only
    // the setup's sockets can pass the filter: those the kernel side let through.
    std::optional<int> noted_in_kernel = {};
};

// What the last report said it read from the kernel's map (cwtrace -v), -1 if it said nothing.
int noted_in_kernel(const std::string& log) {
    const std::string said = " sockets in CLOSE_WAIT read from the kernel's map";
    const size_t at = log.rfind(said);
    if (at == std::string::npos) return -1;
    const size_t start = log.find_last_not_of("0123456789", at - 1) + 1;
    return std::stoi(log.substr(start, at - start));
}

// Small maps: nine cwtraces run at once.
const std::vector<std::string> kSmallMaps = {
    "CWTRACE_ORIGIN_MAP_ENTRIES=4096", "CWTRACE_STACK_MAP_ENTRIES=4096",
    "CWTRACE_RINGBUF_BYTES=1048576", "CWTRACE_COPY_RINGBUF_BYTES=1048576"};

}  // namespace

TEST_F(Filters, EachFilterKeepsExactlyItsSockets) {
    const std::string cgroups = TestCgroup::hierarchy();
    const std::string top = "/cwtrace-filters-" + std::to_string(getpid());
    const std::string in_container = top + "/docker-" + kContainerId + ".scope";
    std::optional<TestCgroup> parent, container, beside;
    if (!cgroups.empty()) {
        parent.emplace(cgroups, top);
        container.emplace(cgroups, in_container);
        beside.emplace(cgroups, top + "/beside");
    }
    const bool with_cgroups =
        parent && parent->created() && container->created() && beside->created();
    Ports p;

    // Before cwtrace: groups A and B.
    Process peer_a({FX_PEER, "-l"});
    p.a = announced_port(peer_a);
    Process client_a({FX_LEAKY_CLIENT, "-p", std::to_string(p.a), "-n", "2"});
    ASSERT_TRUE(client_a.wait_line("ready", 5s)) << client_a.err();
    Process server_b({FX_LEAKY_SERVER, "-6", "-n", "2"});
    p.b = announced_port(server_b);
    Process closer_b({FX_PEER, "-6", "-p", std::to_string(p.b), "-n", "2"});
    ASSERT_TRUE(server_b.wait_line("ready", 5s)) << server_b.err();
    if (with_cgroups) {
        ASSERT_TRUE(container->add(server_b.pid()));
        ASSERT_EQ(cwtrace::cgroup_path(server_b.pid()), in_container);
    }
    // Listening, or waiting for a signal, until cwtrace runs: groups C, D and E.
    Process peer_c({FX_PEER, "-6", "-l"});
    p.c = announced_port(peer_c);
    Process client_c({FX_LEAKY_CLIENT, "-6", "-p", std::to_string(p.c), "-n", "3", "-w", "30"});
    ASSERT_TRUE(client_c.wait_line("waiting", 5s)) << client_c.err();
    if (with_cgroups) {
        ASSERT_TRUE(beside->add(client_c.pid()));
    }
    Process server_d({FX_LEAKY_SERVER, "-n", "2"});
    p.d = announced_port(server_d);
    Process peer_e({FX_PEER, "-l"});
    p.e = announced_port(peer_e);
    ASSERT_TRUE(p.a && p.b && p.c && p.d && p.e);

    const auto port = [](int n) { return std::to_string(n); };
    std::vector<Case> cases = {
        {"port", {"--port", port(p.a), "--port", port(p.d)}, {{'A', 2}, {'D', 2}}, {}, false, 2},
        {"lport", {"--lport", port(p.b), "--lport", port(p.d)}, {{'B', 2}, {'D', 2}}, {}, false, 2},
        {"rport",
         {"--rport", port(p.a), "--rport", port(p.c), "--rport", port(p.e)},
         {{'A', 2}, {'C', 3}},
         {{'E', 1}},
         false,
         3},
        {"remote", {"--remote", "127.0.0.0/8"}, {{'A', 2}, {'D', 2}}, {{'E', 1}}},
        {"comm", {"--comm", "leaky_server"}, {{'B', 2}, {'D', 2}}, {}},
        {"comm+remote", {"--comm", "leaky_client", "--remote", "::1"}, {{'C', 3}}, {}},
        {"pid+port",
         {"-p", std::to_string(server_b.pid()), "-p", std::to_string(client_a.pid()), "--port",
          port(p.b)},
         {{'B', 2}},
         {}},
        {"container", {"--container", kContainerId.substr(0, 12)}, {{'B', 2}}, {}, true},
        {"cgroup", {"--cgroup", top}, {{'B', 2}, {'C', 3}}, {}, true},
    };
    if (!with_cgroups) {
        std::erase_if(cases, [](const Case& c) { return c.needs_cgroups; });
        std::cerr << "no writable cgroup hierarchy: --container and --cgroup not tested\n";
    }

    // Every cwtrace at once, each waiting until it is attached.
    std::vector<std::future<std::unique_ptr<Process>>> starting;
    for (const Case& c : cases) {
        std::vector<std::string> args = {"--min-age", "0s", "-f", "json"};
        args.insert(args.end(), c.args.begin(), c.args.end());
        starting.push_back(
            std::async(std::launch::async, [args] { return start_cwtrace(args, kSmallMaps); }));
    }
    std::vector<std::unique_ptr<Process>> tracers;
    for (auto& s : starting) tracers.push_back(s.get());
    for (const auto& t : tracers)
        if (!t) return;  // failed, or skipped: said by start_cwtrace

    client_c.signal(SIGUSR1);
    Process closer_d({FX_PEER, "-p", std::to_string(p.d), "-n", "2"});
    Process client_e({FX_LEAKY_CLIENT, "-p", std::to_string(p.e), "-n", "1"});
    ASSERT_TRUE(client_c.wait_line("ready", 5s)) << client_c.err();
    ASSERT_TRUE(server_d.wait_line("ready", 5s)) << server_d.err();
    ASSERT_TRUE(client_e.wait_line("ready", 5s)) << client_e.err();
    client_e.signal(SIGKILL);
    client_e.wait(5s);

    for (size_t i = 0; i < cases.size(); ++i) {
        const Case& c = cases[i];
        SCOPED_TRACE("case " + c.name);
        const json report = stop_with_report(*tracers[i]);
        EXPECT_EQ(dump(count_groups(report.at("sockets"), p)), dump(c.sockets))
            << report.dump(1).substr(0, 4000);
        json late = json::array();
        for (const auto& group : report.value("late_closes", json::array()))
            for (const auto& s : group.at("sockets")) late.push_back(s);
        EXPECT_EQ(dump(count_groups(late, p)), dump(c.late_closes)) << late.dump(1);
        if (c.noted_in_kernel) {
            EXPECT_EQ(noted_in_kernel(tracers[i]->err()), *c.noted_in_kernel) << tracers[i]->err();
        }
        // Every socket reported, the setup's or not, is one the filter selects.
        for (const auto& s : report.at("sockets")) {
            if (c.name == "comm") {
                EXPECT_EQ(s.value("comm", ""), "leaky_server") << s.dump();
            }
            if (c.name == "remote") {
                EXPECT_NE(s.at("remote").at("addr").get<std::string>().find("127."),
                          std::string::npos)
                    << s.dump();
            }
            // Those found at start (A, B) as such: the dump was filtered, not skipped.
            const char g = group_of(s, p);
            if (g) {
                EXPECT_EQ(s.at("before_start").get<bool>(), g == 'A' || g == 'B') << s.dump();
            }
        }
    }
}
