// The integration tests' harness (see harness.h): processes, cwtrace runs and the report's reading.
#include "harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace cwtrace::testing {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
using namespace std::chrono_literals;

Process::Process(std::vector<std::string> argv) {
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    close(err[1]);
    out_fd_ = out[0];
    err_fd_ = err[0];
    if (rc != 0) throw std::runtime_error("posix_spawn " + argv[0]);
}

Process::~Process() {
    if (!status_) {
        kill(pid_, SIGKILL);
        while (!reap(__WALL)) {  // a traced process may still stop as it exits
        }
    }
    if (out_fd_ >= 0) close(out_fd_);
    if (err_fd_ >= 0) close(err_fd_);
}

bool Process::pump(std::chrono::milliseconds timeout) {
    if (out_fd_ < 0 && err_fd_ < 0) return false;
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};  // poll skips fds < 0
    if (poll(fds, 2, static_cast<int>(timeout.count())) <= 0) return true;
    int* owned[2] = {&out_fd_, &err_fd_};
    char buf[4096];
    for (int i = 0; i < 2; ++i) {
        if (!fds[i].revents) continue;
        ssize_t n = read(fds[i].fd, buf, sizeof buf);
        if (n > 0) {
            (i == 0 ? out_ : err_).append(buf, n);
        } else {
            close(*owned[i]);
            *owned[i] = -1;
        }
    }
    return out_fd_ >= 0 || err_fd_ >= 0;
}

std::optional<std::string> Process::wait_line(const std::string& prefix,
                                              std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        size_t eol;
        while ((eol = out_.find('\n', out_consumed_)) != std::string::npos) {
            std::string line = out_.substr(out_consumed_, eol - out_consumed_);
            out_consumed_ = eol + 1;
            if (line.rfind(prefix, 0) == 0) return line;
        }
        if (Clock::now() >= deadline || !pump(std::chrono::milliseconds(50))) return std::nullopt;
    }
}

bool Process::wait_stderr(const std::string& needle, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (err_.find(needle) == std::string::npos) {
        if (Clock::now() >= deadline || !pump(std::chrono::milliseconds(50))) return false;
    }
    return true;
}

void Process::signal(int sig) { kill(pid_, sig); }

bool Process::reap(int flags) {
    int st = 0;
    if (waitpid(pid_, &st, flags | __WALL) != pid_) return false;
    if (WIFEXITED(st) || WIFSIGNALED(st)) {
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return true;
    }
    // A ptrace stop: the one as it exits runs the check, a signal goes on to the process.
    int resume_signal = 0;
    if (st >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
        if (at_exit_) std::exchange(at_exit_, nullptr)();
    } else if (st >> 16 == 0) {
        resume_signal = WSTOPSIG(st);  // a signal-delivery stop
    }
    ptrace(PTRACE_CONT, pid_, nullptr, resume_signal);
    return false;
}

bool Process::stop_at_exit(std::function<void()> at_exit) {
    if (ptrace(PTRACE_SEIZE, pid_, nullptr, PTRACE_O_TRACEEXIT) != 0) return false;
    at_exit_ = std::move(at_exit);
    return true;
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!status_) {
        if (reap(WNOHANG)) break;
        if (Clock::now() >= deadline) return std::nullopt;
        pump(std::chrono::milliseconds(20));
    }
    // Read what the process wrote before exiting, up to both pipes' end.
    const auto drain_deadline = Clock::now() + std::chrono::seconds(2);
    while (Clock::now() < drain_deadline && pump(std::chrono::milliseconds(50))) {
    }
    return status_;
}

RunResult run_command(std::vector<std::string> argv, std::chrono::milliseconds timeout) {
    Process p(std::move(argv));
    RunResult r;
    r.exit_code = p.wait(timeout).value_or(-1);
    r.out = p.out();
    r.err = p.err();
    return r;
}

bool bpf_required() {
    const char* v = std::getenv("CWTRACE_REQUIRE_BPF");
    if (v) return std::string(v) == "1";
    return geteuid() == 0 && access("/sys/kernel/btf/vmlinux", R_OK) == 0;
}

void skip_or_fail(const std::string& why) {
    // In a lambda: FAIL() and GTEST_SKIP() return from the function they stand in.
    if (bpf_required())
        [&] { FAIL() << why; }();
    else
        [&] { GTEST_SKIP() << why; }();
}

namespace {

std::string env_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

// How long cwtrace may take to start and to stop: CWTRACE_TEST_TIME_SCALE (an integer, 1 to 20)
// times `base`. In an emulated machine (scripts/test-kernels boots kernels in QEMU's TCG) the
// same work takes several times longer.
std::chrono::milliseconds patience(std::chrono::milliseconds base) {
    const std::string said = env_or_empty("CWTRACE_TEST_TIME_SCALE");
    const int scale = said.empty() ? 1 : std::atoi(said.c_str());
    if (scale < 1 || scale > 20) {
        ADD_FAILURE() << "CWTRACE_TEST_TIME_SCALE=" << said << ": an integer from 1 to 20";
        return base;
    }
    return base * scale;
}

// What cwtrace -v says once its programs are loaded (user/kernel/tracer.cpp).
constexpr const char* kDirectReads = "kernel fields read by plain loads (bpf_rdonly_cast)";
constexpr const char* kProbedReads = "kernel fields read through bpf_probe_read_kernel()";

// Fails the test unless cwtrace loaded the variant the run expects.
bool loaded_expected_variant(const Process& cwtrace, const std::vector<std::string>& env) {
    const std::string expected = expected_reads(env);
    if (expected == "any") return true;
    if (expected != "probed" && expected != "direct") {
        ADD_FAILURE() << "CWTRACE_EXPECT_READS=" << expected << ": direct, probed or any";
        return false;
    }
    const char* said = expected == "probed" ? kProbedReads : kDirectReads;
    if (cwtrace.err().find(said) != std::string::npos) return true;
    ADD_FAILURE() << "this run tests the programs reading kernel fields "
                  << (expected == "probed" ? "through helper calls" : "by plain loads")
                  << ", but cwtrace did not say \"" << said
                  << "\": it loaded the other variant (before 6.2, the kernel refuses plain loads: "
                     "run the .probed_reads tests, or set CWTRACE_EXPECT_READS=any)\n"
                  << cwtrace.err();
    return false;
}

}  // namespace

// The programs a cwtrace run must load: "probed" when it is asked for the twins (by the test's
// `env` or the run's CWTRACE_PROBED_READS, which it inherits), else "direct"; or what
// CWTRACE_EXPECT_READS says ("any" expects nothing).
std::string expected_reads(const std::vector<std::string>& env) {
    if (contains(env, "CWTRACE_PROBED_READS=1")) return "probed";
    if (const std::string said = env_or_empty("CWTRACE_EXPECT_READS"); !said.empty()) return said;
    return std::getenv("CWTRACE_PROBED_READS") ? "probed" : "direct";
}

std::unique_ptr<Process> start_cwtrace(std::vector<std::string> args,
                                       std::vector<std::string> env) {
    return start_cwtrace_as({CWTRACE_BIN}, std::move(args), std::move(env));
}

std::unique_ptr<Process> start_cwtrace_as(std::vector<std::string> command,
                                          std::vector<std::string> args,
                                          std::vector<std::string> env) {
    if (env_or_empty("CWTRACE_TEST_USER_STACKS") == "fp") {
        if (contains(args, "--user-stacks")) {
            [] { GTEST_SKIP() << "chooses its own --user-stacks: runs in the default variant"; }();
            return nullptr;
        }
        args.insert(args.end(), {"--user-stacks", "fp"});
    }
    if (!contains(args, "-v") && !contains(args, "--verbose")) args.push_back("-v");
    args.insert(args.begin(), command.begin(), command.end());
    if (!env.empty()) {
        args.insert(args.begin(), env.begin(), env.end());
        args.insert(args.begin(), "/usr/bin/env");
    }
    auto p = std::make_unique<Process>(args);
    if (p->wait_stderr("tracing TCP", patience(20s))) {
        if (!loaded_expected_variant(*p, env)) return nullptr;
        return p;
    }
    auto code = p->wait(2s);
    skip_or_fail("cwtrace did not start (exit " +
                 (code ? std::to_string(*code) : std::string("?")) + "): " + p->err());
    return nullptr;
}

std::optional<int> stop(Process& cwtrace, int sig) {
    cwtrace.signal(sig);
    return cwtrace.wait(patience(20s));
}

void expect_schema_valid(const std::string& report) {
#ifdef CWTRACE_REPORT_SCHEMA
    char path[] = "/tmp/cwtrace-report-XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    const bool written = write(fd, report.data(), report.size()) == ssize_t(report.size());
    close(fd);
    const RunResult check =
        run_command({CWTRACE_PYTHON3, CWTRACE_SCHEMA_CHECK, CWTRACE_REPORT_SCHEMA, path}, 60s);
    unlink(path);
    EXPECT_TRUE(written && check.exit_code == 0)
        << "the report does not follow docs/report.schema.json:\n"
        << check.out << check.err;
#else
    (void)report;
#endif
}

json stop_with_report(Process& cwtrace, int sig) {
    EXPECT_EQ(stop(cwtrace, sig), std::optional<int>(0)) << cwtrace.err();
    try {
        return json::parse(cwtrace.out());
    } catch (const std::exception& e) {
        ADD_FAILURE() << "report is not JSON: " << e.what() << "\n" << cwtrace.out();
        return json{{"sockets", json::array()}};
    }
}

int number_after_space(const std::string& line) {
    return std::stoi(line.substr(line.find(' ') + 1));
}

int announced_port(Process& fixture) {
    return number_after_space(fixture.wait_line("port ", 5s).value_or("port 0"));
}

std::vector<json> sockets_with_port(const json& report, const char* side, int port) {
    std::vector<json> out;
    for (const auto& s : report.at("sockets"))
        if (s.at(side).at("port").get<int>() == port) out.push_back(s);
    return out;
}

std::vector<std::string> function_names(const json& stack) {
    std::vector<std::string> names;
    for (const auto& frame : stack) names.push_back(frame.at("function").get<std::string>());
    return names;
}

std::string joined(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += n + " ";
    return out;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

bool in_order(const std::vector<std::string>& names, const std::vector<std::string>& needles) {
    auto it = names.begin();
    for (const auto& needle : needles) {
        it = std::find(it, names.end(), needle);
        if (it == names.end()) return false;
        ++it;
    }
    return true;
}

::testing::AssertionResult nothing_dropped(const json& stats) {
    const auto& lost = stats.at("lost");
    for (const char* cause : {"ringbuf_full", "origin_map_full", "decode_errors"})
        if (lost.at(cause).get<uint64_t>() != 0)
            return ::testing::AssertionFailure() << cause << " in " << stats.dump();
    return ::testing::AssertionSuccess();
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace cwtrace::testing
