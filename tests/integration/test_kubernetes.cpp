// Kubernetes names without a cluster: a cgroup v2 hierarchy shaped like kubelet's (systemd
// driver), a kubelet log tree in a temporary host root (CWTRACE_HOST_ROOT), and a leaking fixture
// moved into the pod's container scope. The report's JSON, text and metrics must name the pod,
// its namespace and the container. And cwtrace in a pid namespace of its own says, once, what
// its report lacks. Root, real BPF.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "harness.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kPromtool = "/usr/bin/promtool";

// Where cgroup v2 is mounted (pure v2 or hybrid's "unified"), from mountinfo; "" when nowhere.
std::string cgroup2_mount() {
    std::ifstream in("/proc/self/mountinfo");
    for (std::string line; std::getline(in, line);) {
        // "... mount-point options - fstype source super-options"
        const size_t dash = line.find(" - ");
        if (dash == std::string::npos) continue;
        std::istringstream after(line.substr(dash + 3));
        std::string type;
        after >> type;
        if (type != "cgroup2") continue;
        std::istringstream before(line.substr(0, dash));
        std::string id, parent, devno, root, mount_point;
        before >> id >> parent >> devno >> root >> mount_point;
        if (root == "/") return mount_point;
    }
    return "";
}

// A cgroup v2 hierarchy: the system's, or one mounted for the test (unmounted at the end).
class Cgroup2 {
  public:
    Cgroup2() {
        root_ = cgroup2_mount();
        if (!root_.empty()) return;
        char tmpl[] = "/tmp/cwtrace-cgroup2-XXXXXX";
        if (!mkdtemp(tmpl)) return;
        if (mount("cgroup2", tmpl, "cgroup2", 0, nullptr) == 0) {
            root_ = tmpl;
            mounted_ = true;
        } else {
            why_ = std::string("cannot mount cgroup2: ") + strerror(errno);
            rmdir(tmpl);
        }
    }
    ~Cgroup2() {
        if (!mounted_) return;
        umount(root_.c_str());
        rmdir(root_.c_str());
    }
    const std::string& root() const { return root_; }
    const std::string& why() const { return why_; }

  private:
    std::string root_, why_;
    bool mounted_ = false;
};

// Directories made below a cgroup root, outermost first; removed innermost first at the end,
// after moving what is left in them to the root (a cgroup with processes cannot go).
class CgroupPath {
  public:
    CgroupPath(std::string root, const std::vector<std::string>& parts) : root_(std::move(root)) {
        std::string path = root_;
        for (const std::string& part : parts) {
            path += "/" + part;
            if (mkdir(path.c_str(), 0755) == 0)
                made_.push_back(path);
            else if (errno != EEXIST)
                return;
        }
        leaf_ = path;
    }
    ~CgroupPath() {
        if (!leaf_.empty()) {
            std::ifstream procs(leaf_ + "/cgroup.procs");
            for (pid_t pid; procs >> pid;) std::ofstream(root_ + "/cgroup.procs") << pid << "\n";
        }
        for (auto it = made_.rbegin(); it != made_.rend(); ++it) rmdir(it->c_str());
    }
    bool ok() const { return !leaf_.empty(); }
    bool add(pid_t pid) const {
        std::ofstream out(leaf_ + "/cgroup.procs");
        out << pid << "\n";
        out.flush();
        return out.good();
    }

  private:
    std::string root_, leaf_;
    std::vector<std::string> made_;
};

struct TempRoot {
    TempRoot() {
        char tmpl[] = "/tmp/cwtrace-hostroot-XXXXXX";
        path = mkdtemp(tmpl) ? tmpl : "";
    }
    ~TempRoot() {
        if (!path.empty()) fs::remove_all(path);
    }
    std::string path;
};

std::string random_hex(size_t digits) {
    std::random_device random;
    std::string out;
    while (out.size() < digits) out += "0123456789abcdef"[random() % 16];
    return out;
}

// A sample's value from an exposition, by its full line up to the value; nullopt when absent.
std::optional<std::string> sample_line(const std::string& text, const std::string& name,
                                       const std::string& must_hold) {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);)
        if (line.starts_with(name + "{") && line.find(must_hold) != std::string::npos) return line;
    return std::nullopt;
}

TEST(Kubernetes, PodNamespaceAndContainerNamedInJsonTextAndMetrics) {
    Cgroup2 cgroup2;
    if (cgroup2.root().empty()) return skip_or_fail("no cgroup v2: " + cgroup2.why());
    // A pod as kubelet's systemd driver files it; names and ids of this run only.
    const std::string uid = random_hex(8) + "-" + random_hex(4) + "-" + random_hex(4) + "-" +
                            random_hex(4) + "-" + random_hex(12);
    std::string uid_underscores = uid;
    std::replace(uid_underscores.begin(), uid_underscores.end(), '-', '_');
    const std::string id = random_hex(64);
    const std::string pod = "api-" + random_hex(5), ns = "payments", container = "web";
    CgroupPath scope(cgroup2.root(), {"kubepods.slice", "kubepods-besteffort.slice",
                                      "kubepods-besteffort-pod" + uid_underscores + ".slice",
                                      "cri-containerd-" + id + ".scope"});
    ASSERT_TRUE(scope.ok()) << "cannot create cgroups under " << cgroup2.root();

    TempRoot host;
    ASSERT_FALSE(host.path.empty());
    const fs::path logs =
        fs::path(host.path) / "var/log/pods" / (ns + "_" + pod + "_" + uid) / container;
    fs::create_directories(logs);
    std::ofstream(logs / "0.log") << "log\n";
    fs::create_directories(fs::path(host.path) / "var/log/containers");
    fs::create_symlink(logs / "0.log", fs::path(host.path) / "var/log/containers" /
                                           (pod + "_" + ns + "_" + container + "-" + id + ".log"));

    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    ASSERT_GT(port, 0);
    Process client({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "2", "-w", "20"});
    ASSERT_TRUE(client.wait_line("waiting", 5s)) << client.err();
    ASSERT_TRUE(scope.add(client.pid())) << "cannot move the fixture into the pod's scope";

    const std::string textfile = host.path + "/cwtrace.prom";
    const std::vector<std::string> env = {"CWTRACE_HOST_ROOT=" + host.path};
    auto cwtrace = start_cwtrace({"--min-age", "1s", "-f", "json", "--pid",
                                  std::to_string(client.pid()), "--metrics-textfile", textfile},
                                 env);
    if (!cwtrace) return;
    client.signal(SIGUSR1);
    ASSERT_TRUE(client.wait_line("ready", 10s)) << client.err();
    std::this_thread::sleep_for(1500ms);
    const json report = stop_with_report(*cwtrace);

    const auto found = sockets_with_port(report, "remote", port);
    ASSERT_EQ(found.size(), 2u) << report.dump(2);
    const json& owner = found[0].at("owner");
    EXPECT_EQ(owner.at("pod"), pod) << owner.dump(2);
    EXPECT_EQ(owner.at("namespace"), ns);
    EXPECT_EQ(owner.at("container"), container);
    EXPECT_EQ(owner.at("pod_uid"), uid);
    EXPECT_EQ(owner.at("container_id"), id);
    const json& own = found[0].at("origin").at("own");
    ASSERT_TRUE(own.is_object()) << found[0].at("origin").dump(2);
    EXPECT_EQ(own.at("function"), "open_connection");

    // Metrics: the gauge and the age gauge carry the names and the opening function.
    const std::string metrics = slurp(textfile);
    const std::string labels = "opened_in=\"open_connection\",pod=\"" + pod + "\",namespace=\"" +
                               ns + "\",container=\"" + container + "\"";
    const auto count = sample_line(metrics, "cwtrace_close_wait_sockets", labels);
    ASSERT_TRUE(count) << metrics;
    EXPECT_TRUE(count->ends_with(" 2")) << *count;
    const auto age = sample_line(metrics, "cwtrace_close_wait_oldest_age_seconds", labels);
    ASSERT_TRUE(age) << metrics;
    EXPECT_GE(std::stod(age->substr(age->rfind(' ') + 1)), 1.0) << *age;
    if (access(kPromtool, X_OK) == 0) {
        RunResult check = run_command(
            {"/bin/sh", "-c", std::string(kPromtool) + " check metrics < '" + textfile + "'"}, 20s);
        EXPECT_EQ(check.exit_code, 0) << check.out << check.err << "\n" << metrics;
    }

    // Text: the owner's line names the pod and the container (the sockets are still there).
    auto text_run = start_cwtrace({"--min-age", "1s", "--pid", std::to_string(client.pid())}, env);
    if (!text_run) return;
    ASSERT_EQ(stop(*text_run), std::optional<int>(0)) << text_run->err();
    EXPECT_NE(text_run->out().find("in pod " + ns + "/" + pod + " (container " + container + ")"),
              std::string::npos)
        << text_run->out();
}

// cwtrace in a pid namespace of its own (a pod without hostPID) says so once, at normal level,
// with what the report lacks; on the host it says nothing of the kind.
TEST(Kubernetes, OwnPidNamespaceWarnedOnce) {
    const std::string warning = "pid namespace other than the host's";
    auto host_run = start_cwtrace({"--duration", "1s"});
    if (!host_run) return;
    ASSERT_EQ(host_run->wait(30s), std::optional<int>(0)) << host_run->err();
    EXPECT_EQ(host_run->err().find(warning), std::string::npos) << host_run->err();

    // unshare's child (pid 1 in the new namespace, its own /proc) is cwtrace.
    auto nested = start_cwtrace_as(
        {"/usr/bin/unshare", "--pid", "--fork", "--mount-proc", CWTRACE_BIN}, {"--duration", "1s"});
    if (!nested) return;
    ASSERT_EQ(nested->wait(30s), std::optional<int>(0)) << nested->err();
    const std::string& err = nested->err();
    const size_t at = err.find(warning);
    ASSERT_NE(at, std::string::npos) << err;
    EXPECT_EQ(err.find(warning, at + 1), std::string::npos) << "said twice:\n" << err;
    EXPECT_NE(err.find("held by no process"), std::string::npos) << err;
}

}  // namespace
