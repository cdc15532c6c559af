#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "owners/process_info.h"

extern char** environ;

using namespace cwtrace;
using namespace std::chrono_literals;
using namespace std::string_literals;

namespace {

const std::string kId = "3f1b2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809";

// ---- pure parsers ----

TEST(ProcessInfoCmdline, NulsBecomeSpacesAndEndsAreTrimmed) {
    EXPECT_EQ(format_cmdline("sleep\0"s
                             "30\0"s),
              "sleep 30");
    EXPECT_EQ(format_cmdline("python3\0app.py\0--port\0"
                             "8080\0"s),
              "python3 app.py --port 8080");
    EXPECT_EQ(format_cmdline("nginx: worker process"), "nginx: worker process");  // rewritten argv
    EXPECT_EQ(format_cmdline("\0\0"s), "");
    EXPECT_EQ(format_cmdline(""), "");
    EXPECT_EQ(format_cmdline("a\0\0b\0"s), "a  b");  // an empty argument stays visible
}

TEST(ProcessInfoCmdline, LongLinesAreCutOnACharacter) {
    EXPECT_EQ(format_cmdline(std::string(10000, 'x')).size(), kMaxCmdlineBytes);

    std::string accents;  // "é" is 2 bytes; put the cut in the middle of one
    while (accents.size() < kMaxCmdlineBytes + 10) accents += "\xc3\xa9";
    std::string cut = format_cmdline("x" + accents);
    EXPECT_EQ(cut.size(), kMaxCmdlineBytes - 1);
    EXPECT_EQ(cut.substr(cut.size() - 2), "\xc3\xa9");

    std::string euro = "ab";  // "€" is 3 bytes
    while (euro.size() < kMaxCmdlineBytes + 10) euro += "\xe2\x82\xac";
    cut = format_cmdline(euro);
    EXPECT_LE(cut.size(), kMaxCmdlineBytes);
    EXPECT_EQ((cut.size() - 2) % 3, 0u);
}

TEST(ProcessInfoStatus, NspidInnermostWhenNested) {
    const std::string host =
        "Name:\tsleep\nTgid:\t4242\nNgid:\t0\nPid:\t4242\nPPid:\t1\n"
        "NSpid:\t4242\nNSpgid:\t4242\n";
    EXPECT_EQ(parse_nspid(host), std::nullopt);
    EXPECT_EQ(parse_nspid("Name:\tsh\nNSpid:\t4242\t1\nNSsid:\t1\n"), 1);
    EXPECT_EQ(parse_nspid("NSpid:\t4242\t310\t7"), 7);   // two levels deep, no final newline
    EXPECT_EQ(parse_nspid("Name:\tx\n"), std::nullopt);  // kernel before 4.1
    EXPECT_EQ(parse_nspid("NSpid:\t4242\tab\n"), std::nullopt);
    EXPECT_EQ(parse_nspid("NSpid:\t4242\t12x\n"), std::nullopt);
    EXPECT_EQ(parse_nspid("NSpid:\t4242\t-3\n"), std::nullopt);
    EXPECT_EQ(parse_nspid("XNSpid:\t1\t2\n"), std::nullopt);  // must start a line
    EXPECT_EQ(parse_nspid(""), std::nullopt);
}

TEST(ProcessInfoCgroup, PathFromV2V1AndHybrid) {
    EXPECT_EQ(parse_cgroup_path("0::/user.slice/user-0.slice/session-1.scope\n"),
              "/user.slice/user-0.slice/session-1.scope");
    // Hybrid: v2 "/" while a v1 hierarchy (here memory) places the process deeper.
    EXPECT_EQ(parse_cgroup_path("9:name=systemd:/\n8:pids:/\n4:memory:/process_api/ccba5f01\n"
                                "1:cpu:/\n0::/\n"),
              "/process_api/ccba5f01");
    EXPECT_EQ(
        parse_cgroup_path("12:pids:/docker/" + kId + "\n11:cpu,cpuacct:/docker/" + kId + "\n"),
        "/docker/" + kId);
    EXPECT_EQ(parse_cgroup_path("0::/\n"), "/");
    EXPECT_EQ(parse_cgroup_path("3:cpu:/\n"), "/");
    EXPECT_EQ(parse_cgroup_path("0::/odd:name\n"), "/odd:name");  // colons in the path
    EXPECT_EQ(parse_cgroup_path("garbage\n\n0:/x\n"), "");
    EXPECT_EQ(parse_cgroup_path(""), "");
}

TEST(ProcessInfoContainerId, RecognizesRuntimes) {
    const std::string cases[] = {
        "/docker/" + kId,
        "/system.slice/docker-" + kId + ".scope",
        "/docker/" + kId + "/init.scope",  // systemd running inside the container
        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1c2d_3e4f.slice/"
        "cri-containerd-" +
            kId + ".scope",
        "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1c2d.slice/crio-" + kId +
            ".scope",
        "/kubepods/burstable/pod1c2d3e4f-0000-1111-2222-333344445555/" + kId,
        "/kubepods/besteffort/pod1c2d/crio-" + kId,
        "/machine.slice/libpod-" + kId + ".scope",
        "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + kId +
            ".scope/container",
    };
    for (const auto& path : cases) EXPECT_EQ(container_id(path), kId) << path;
}

TEST(ProcessInfoContainerId, InnermostOfNested) {
    const std::string outer(64, 'a');
    EXPECT_EQ(container_id("/docker/" + outer + "/docker/" + kId), kId);
}

TEST(ProcessInfoContainerId, RejectsNonContainers) {
    const std::string cases[] = {
        "",
        "/",
        "/user.slice/user-0.slice/session-1.scope",
        "/system.slice/docker.service",
        "/system.slice/containerd.service",
        "/machine.slice/libpod-conmon-" + kId + ".scope",  // the monitor, outside the container
        "/kubepods.slice/crio-conmon-" + kId + ".scope",
        "/docker/" + kId.substr(1),         // 63 digits
        "/docker/" + kId + "0",             // 65
        "/docker/" + std::string(64, 'A'),  // docker ids are lower case
        "/docker/" + std::string(63, 'a') + "g",
        "/system.slice/docker-" + kId + ".scope.bak",
        "/kubepods/burstable/pod1c2d3e4f-0000-1111-2222-333344445555",
    };
    for (const auto& path : cases) EXPECT_EQ(container_id(path), std::nullopt) << path;
}

// ---- readers on a /proc tree of our own ----

class FakeProc {
  public:
    FakeProc() {
        char tmpl[] = "/tmp/cwtrace-proc-XXXXXX";
        root_ = mkdtemp(tmpl);
    }
    ~FakeProc() { std::filesystem::remove_all(root_); }
    void write(pid_t pid, const std::string& name, const std::string& content) {
        std::filesystem::create_directories(root_ + "/" + std::to_string(pid));
        std::ofstream(root_ + "/" + std::to_string(pid) + "/" + name, std::ios::binary) << content;
    }
    const std::string& root() const { return root_; }

  private:
    std::string root_;
};

TEST(ProcessInfoRead, DetailsFromProcRoot) {
    FakeProc proc;
    proc.write(77, "cmdline", "python3\0app.py\0"s);
    proc.write(77, "status", "Name:\tpython3\nPid:\t77\nNSpid:\t77\t5\n");
    proc.write(77, "cgroup", "0::/system.slice/docker-" + kId + ".scope\n");
    auto details = read_process_details(77, proc.root());
    EXPECT_EQ(details.cmdline, "python3 app.py");
    EXPECT_EQ(details.namespaced_pid, 5);
    EXPECT_EQ(details.cgroup, "/system.slice/docker-" + kId + ".scope");
    EXPECT_EQ(details.container_id, kId);

    proc.write(78, "cmdline", std::string(3 * kMaxCmdlineBytes, 'y'));
    EXPECT_EQ(read_cmdline(78, proc.root()).size(), kMaxCmdlineBytes);

    auto gone = read_process_details(79, proc.root());
    EXPECT_EQ(gone.cmdline, "");
    EXPECT_EQ(gone.namespaced_pid, std::nullopt);
    EXPECT_EQ(gone.cgroup, "");
    EXPECT_EQ(gone.container_id, std::nullopt);
}

// ---- live processes ----

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

TEST(ProcessInfoLive, OwnProcess) {
    const pid_t self = getpid();
    EXPECT_NE(read_cmdline(self).find("unit_tests"), std::string::npos) << read_cmdline(self);
    EXPECT_EQ(namespaced_pid(self), std::nullopt);  // same pid namespace as /proc

    const std::string path = cgroup_path(self);
    ASSERT_TRUE(path.starts_with('/')) << path;
    // It is one of the paths the kernel lists for us.
    EXPECT_NE(slurp("/proc/self/cgroup").find(":" + path + "\n"), std::string::npos) << path;
}

// Children of `parent`, from /proc/*/stat (/proc/PID/task/TID/children needs CONFIG_PROC_CHILDREN).
std::vector<pid_t> children_of(pid_t parent) {
    std::vector<pid_t> out;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const std::string name = entry.path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        const std::string stat = slurp(entry.path().string() + "/stat");
        const size_t paren = stat.rfind(')');
        if (paren == std::string::npos) continue;
        std::istringstream fields(stat.substr(paren + 1));
        char state = 0;
        pid_t ppid = 0;
        if (fields >> state >> ppid && ppid == parent) out.push_back(std::stoi(name));
    }
    return out;
}

// Polls until `pid` has one child running `cmdline`.
pid_t wait_for_child(pid_t pid, const std::string& cmdline) {
    for (int attempt = 0; attempt < 300; ++attempt) {
        for (pid_t child : children_of(pid))
            if (read_cmdline(child) == cmdline) return child;
        std::this_thread::sleep_for(10ms);
    }
    return 0;
}

// Runs `unshare --pid --fork sh -c 'sleep 30 & wait'`; kills the namespace on destruction.
class PidNamespace {
  public:
    PidNamespace() {
        std::vector<std::string> args = {"unshare", "--pid", "--fork", "--kill-child"};
        if (geteuid() != 0) {  // an unprivileged user needs a user namespace to own the pid one
            args.insert(args.begin() + 1, {"--user", "--map-root-user"});
        }
        for (const char* a : {"sh", "-c", "sleep 30 & wait"}) args.push_back(a);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        spawn_error_ = posix_spawnp(&unshare_, "unshare", nullptr, nullptr, argv.data(), environ);
    }
    ~PidNamespace() {
        if (spawn_error_ != 0 || reaped_) return;
        kill(unshare_, SIGKILL);  // --kill-child takes the namespace's init, and so all of it
        waitpid(unshare_, nullptr, 0);
    }
    int spawn_error() const { return spawn_error_; }
    pid_t unshare_pid() const { return unshare_; }
    // Why unshare stopped, if it did.
    std::string exit_reason() {
        int status = 0;
        if (waitpid(unshare_, &status, WNOHANG) != unshare_) return "still running";
        reaped_ = true;
        if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
        return "killed by signal " + std::to_string(WTERMSIG(status));
    }

  private:
    pid_t unshare_ = 0;
    int spawn_error_ = 0;
    bool reaped_ = false;
};

TEST(ProcessInfoLive, PidInOwnNamespace) {
    PidNamespace ns;
    ASSERT_EQ(ns.spawn_error(), 0)
        << "cannot run `unshare` (util-linux): " << strerror(ns.spawn_error());
    const pid_t init = wait_for_child(ns.unshare_pid(), "sh -c sleep 30 & wait");
    ASSERT_NE(init, 0) << "no shell inside the new pid namespace; unshare " << ns.exit_reason();
    const pid_t sleeper = wait_for_child(init, "sleep 30");
    ASSERT_NE(sleeper, 0) << "no sleep inside the new pid namespace";

    EXPECT_EQ(namespaced_pid(ns.unshare_pid()), std::nullopt);  // unshare itself stays outside
    EXPECT_EQ(namespaced_pid(init), 1);
    EXPECT_EQ(namespaced_pid(sleeper), 2);
    EXPECT_EQ(read_process_details(sleeper).cmdline, "sleep 30");
}

}  // namespace
