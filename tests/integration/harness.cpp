#include "harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace cwtrace::testing {

using Clock = std::chrono::steady_clock;

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
        waitpid(pid_, nullptr, 0);
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

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!status_) {
        int st = 0;
        pid_t r = waitpid(pid_, &st, WNOHANG);
        if (r == pid_) {
            status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            break;
        }
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

std::vector<std::string> cwtrace_bpf_objects() {
    std::vector<std::string> found;
    // A link holds its program: no program left means no link left either.
    for (const char* cmd : {"bpftool prog show 2>/dev/null"}) {
        std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd, "r"), pclose);
        if (!p) continue;
        char line[512];
        while (fgets(line, sizeof line, p.get())) {
            std::string s(line);
            for (const char* name : {"on_inet_sock_se", "on_accept4_exit", "on_accept_exit"})
                if (s.find(name) != std::string::npos) found.push_back(s);
        }
    }
    return found;
}

}  // namespace cwtrace::testing

namespace cwtrace::testing {

std::vector<std::string> new_cwtrace_bpf_objects(const std::vector<std::string>& before) {
    std::vector<std::string> added;
    for (const auto& line : cwtrace_bpf_objects())
        if (std::find(before.begin(), before.end(), line) == before.end()) added.push_back(line);
    return added;
}

}  // namespace cwtrace::testing
