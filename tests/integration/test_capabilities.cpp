// Least privilege: cwtrace as another user than root (nobody) with exactly the capabilities
// README "Permissions" lists finds a leak with its owner and stacks; without tracing's
// capabilities it is one line and exit 1; root with tracing's only still names user frames.
// Root (it hands the capabilities out), real BPF, setpriv from util-linux.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "leak_checks.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

// README "Permissions": what a user other than root needs for every feature but containers'
// network namespaces (CAP_SYS_ADMIN).
const std::vector<std::string> kDocumented = {"bpf",        "perfmon", "dac_read_search",
                                              "sys_ptrace", "syslog",  "checkpoint_restore"};

// A copy of cwtrace that nobody can run: the build tree may sit under a directory only root
// enters. Removed with its directory.
class CopyForAnyone {
  public:
    CopyForAnyone() {
        char dir[] = "/tmp/cwtrace-caps-XXXXXX";
        if (!mkdtemp(dir)) return;
        dir_ = dir;
        chmod(dir, 0755);
        std::error_code ec;
        std::filesystem::copy_file(CWTRACE_BIN, binary(), ec);
        if (!ec) chmod(binary().c_str(), 0755);
    }
    ~CopyForAnyone() {
        std::error_code ec;
        if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
    }
    std::string binary() const { return dir_ + "/cwtrace"; }

  private:
    std::string dir_;
};

// setpriv running `binary` with exactly `caps` (effective, permitted, inheritable, ambient and
// bounding): as nobody, or keeping root's uid.
std::vector<std::string> with_caps(const std::vector<std::string>& caps, const std::string& binary,
                                   bool as_nobody = true) {
    std::string set = "-all";
    for (const std::string& cap : caps) set += ",+" + cap;
    std::vector<std::string> command = {"/usr/bin/setpriv"};
    if (as_nobody) command.insert(command.end(), {"--reuid=nobody", "--regid=nogroup"});
    command.insert(command.end(), {"--clear-groups", "--inh-caps=" + set, "--ambient-caps=" + set,
                                   "--bounding-set=" + set, "--", binary});
    return command;
}

// The "Uid:" line of a process's status: its real, effective, saved and fs uids.
std::string uids_of(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("Uid:", 0) == 0) return line;
    return "";
}

// How many of cwtrace's log lines start with `prefix`.
size_t lines_starting(const std::string& log, const std::string& prefix) {
    size_t n = 0;
    for (size_t at = 0; at < log.size();) {
        const size_t end = std::min(log.find('\n', at), log.size());
        if (log.compare(at, prefix.size(), prefix) == 0) ++n;
        at = end + 1;
    }
    return n;
}

class Capabilities : public ::testing::Test {
  protected:
    void SetUp() override {
        if (access("/usr/bin/setpriv", X_OK) != 0) skip_or_fail("no /usr/bin/setpriv (util-linux)");
    }
    CopyForAnyone copy_;
};

// A connect leak of a root process, traced by cwtrace started with `command`: its one socket.
json traced_leak(const std::vector<std::string>& command, std::string& log, pid_t& client_pid,
                 std::string& cwtrace_uids) {
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    if (port == 0) return nullptr;
    auto cwtrace = start_cwtrace_as(command, {"--min-age", "1s", "-f", "json"});
    if (!cwtrace) return nullptr;
    cwtrace_uids = uids_of(cwtrace->pid());
    Process client({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "1"});
    client_pid = client.pid();
    if (!client.wait_line("ready", 5s)) return nullptr;
    std::this_thread::sleep_for(1500ms);
    const json report = stop_with_report(*cwtrace);
    log = cwtrace->err();
    const auto leaked = sockets_with_port(report, "remote", port);
    EXPECT_EQ(leaked.size(), 1u) << report.dump(2);
    return leaked.empty() ? nullptr : leaked[0];
}

TEST_F(Capabilities, NobodyWithTheDocumentedSetFindsTheLeakWithItsOwnerAndStacks) {
    std::string log, uids;
    pid_t client = 0;
    const json s = traced_leak(with_caps(kDocumented, copy_.binary()), log, client, uids);
    if (HasFatalFailure() || IsSkipped()) return;
    ASSERT_FALSE(s.is_null()) << log;
    EXPECT_EQ(uids, "Uid:\t65534\t65534\t65534\t65534") << "not run as nobody";
    EXPECT_EQ(s.at("pid"), client) << log;
    EXPECT_EQ(s.at("comm"), "leaky_client");
    const json& origin = s.at("origin");
    EXPECT_TRUE(starts_with_chain(function_names(origin.at("user_stack")),
                                  {"connect", "open_connection", "fetch_page", "crawl", "main"}));
    EXPECT_TRUE(contains(function_names(origin.at("kernel_stack")), "tcp_v4_connect"))
        << joined(function_names(origin.at("kernel_stack")));
    // Containers' namespaces are the one thing the set leaves out, said once.
    EXPECT_EQ(lines_starting(log, "cwtrace: no CAP_SYS_ADMIN: "), 1u) << log;
    EXPECT_EQ(lines_starting(log, "cwtrace: no CAP_"), 1u) << log;
}

// The case: root's uid with the tracing capabilities only. /proc/PID/map_files refuses
// it (no CAP_SYS_ADMIN): its user frames must still be named, through the files' paths.
TEST_F(Capabilities, RootWithTracingCapabilitiesOnlyNamesUserFramesAndSaysWhatItLoses) {
    std::string log, uids;
    pid_t client = 0;
    const json s = traced_leak(with_caps({"bpf", "perfmon", "sys_ptrace"}, copy_.binary(), false),
                               log, client, uids);
    if (HasFatalFailure() || IsSkipped()) return;
    ASSERT_FALSE(s.is_null()) << log;
    EXPECT_EQ(s.at("pid"), client) << log;
    EXPECT_TRUE(starts_with_chain(function_names(s.at("origin").at("user_stack")),
                                  {"connect", "open_connection", "fetch_page", "crawl", "main"}));
    EXPECT_EQ(lines_starting(log, "cwtrace: no CAP_SYS_ADMIN: "), 1u) << log;
    EXPECT_EQ(lines_starting(log, "cwtrace: no CAP_CHECKPOINT_RESTORE: "), 1u) << log;
    EXPECT_EQ(lines_starting(log, "cwtrace: no CAP_SYS_PTRACE"), 0u) << log;
}

// Without what tracing needs: one line naming it, exit 1, nothing loaded.
TEST_F(Capabilities, WithoutTracingCapabilitiesItIsOneLineAndExit1) {
    struct Case {
        std::vector<std::string> caps;
        std::string line;
    };
    const std::vector<Case> cases = {
        {{"dac_read_search", "sys_ptrace"},
         "cwtrace: no CAP_BPF and CAP_PERFMON: tracing needs CAP_BPF and CAP_PERFMON (hint: "},
        {{"bpf", "dac_read_search", "sys_ptrace"},
         "cwtrace: no CAP_PERFMON: tracing needs CAP_BPF and CAP_PERFMON (hint: "},
        // tracefs is mode 0700: the reported bug ("tracefs is not mounted") was access()'s.
        {{"bpf", "perfmon", "sys_ptrace"},
         "cwtrace: cannot read tracefs at /sys/kernel/tracing (mode 0700): no "
         "CAP_DAC_READ_SEARCH (hint: "},
    };
    struct stat tracefs;
    const bool tracefs_closed = stat("/sys/kernel/tracing/events", &tracefs) == 0 &&
                                stat("/sys/kernel/tracing", &tracefs) == 0 &&
                                (tracefs.st_mode & 07777) == 0700;
    const uint32_t last_id = last_bpf_program_id();
    for (const Case& c : cases) {
        if (c.line.find("tracefs") != std::string::npos && !tracefs_closed) continue;
        std::vector<std::string> command = with_caps(c.caps, copy_.binary());
        command.insert(command.end(), {"-d", "1"});
        const RunResult run = run_command(command, 20s);
        EXPECT_EQ(run.exit_code, 1) << run.err;
        EXPECT_EQ(run.err.rfind(c.line, 0), 0u) << run.err;
        EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
        EXPECT_EQ(run.out, "");
    }
    EXPECT_TRUE(cwtrace_programs_since(last_id).empty());
}

}  // namespace
