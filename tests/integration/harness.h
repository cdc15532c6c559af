// Running cwtrace and the fixture programs as real processes, for the integration tests.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace cwtrace::testing {

// A child process with its stdout and stderr on pipes. Killed (SIGKILL) when destroyed.
class Process {
  public:
    explicit Process(std::vector<std::string> argv);
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    pid_t pid() const { return pid_; }

    // The next stdout line starting with `prefix`, waiting up to `timeout`.
    std::optional<std::string> wait_line(const std::string& prefix,
                                         std::chrono::milliseconds timeout);
    // Waits until stderr contains `needle` (or the process exits / time runs out).
    bool wait_stderr(const std::string& needle, std::chrono::milliseconds timeout);

    void signal(int sig);
    // Waits for exit; returns the exit status (128+signal if killed), nullopt on timeout.
    std::optional<int> wait(std::chrono::milliseconds timeout);

    // Everything read so far (wait() reads to the end).
    const std::string& out() const { return out_; }
    const std::string& err() const { return err_; }

  private:
    bool pump(std::chrono::milliseconds timeout);  // reads what is available; false at EOF

    pid_t pid_ = -1;
    int out_fd_ = -1, err_fd_ = -1;
    std::string out_, err_;
    size_t out_consumed_ = 0;
    std::optional<int> status_;
};

// The result of a finished run of a command.
struct RunResult {
    int exit_code = -1;
    std::string out, err;
};
RunResult run_command(std::vector<std::string> argv, std::chrono::milliseconds timeout);

// Loaded BPF programs that belong to cwtrace (bpftool lines: "ID: tracepoint  name on_…").
std::vector<std::string> cwtrace_bpf_objects();

// Those of cwtrace_bpf_objects() that are not in `before`: the programs one run added, so that
// another cwtrace running on the machine (a benchmark, a second instance) does not count.
std::vector<std::string> new_cwtrace_bpf_objects(const std::vector<std::string>& before);

}  // namespace cwtrace::testing
