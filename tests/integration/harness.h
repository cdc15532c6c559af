// The integration tests' one harness: running cwtrace and the fixture programs as real
// processes, starting and stopping cwtrace, and reading its JSON report and the fixtures' output.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
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

    // Makes the process stop once as it exits (ptrace's PTRACE_EVENT_EXIT), when its own
    // clean-up has run and the kernel has not yet closed its descriptors: wait() calls `at_exit`
    // there, then lets it go. False when it cannot be traced (already gone).
    bool stop_at_exit(std::function<void()> at_exit);

    // Everything read so far (wait() reads to the end).
    const std::string& out() const { return out_; }
    const std::string& err() const { return err_; }

  private:
    bool pump(std::chrono::milliseconds timeout);  // reads what is available; false at EOF
    bool reap(int flags);  // one waitpid(); true once the process has exited

    pid_t pid_ = -1;
    int out_fd_ = -1, err_fd_ = -1;
    std::string out_, err_;
    size_t out_consumed_ = 0;
    std::optional<int> status_;
    std::function<void()> at_exit_;  // set: traced, stopping as it exits
};

// The result of a finished run of a command.
struct RunResult {
    int exit_code = -1;
    std::string out, err;
};
RunResult run_command(std::vector<std::string> argv, std::chrono::milliseconds timeout);

// ---- cwtrace's programs in the kernel ----

// A BPF program in the kernel, by its full name (from its BTF: the kernel keeps 15 characters).
struct BpfProgram {
    uint32_t id = 0;
    std::string name;
    bool attached = false;  // a BPF link holds it (on a tracepoint)
};

// Every program cwtrace's objects define (cwtrace.bpf.o, fd_walk.bpf.o), by name.
const std::vector<std::string>& cwtrace_program_names();

// The programs one cwtrace run attaches: the tracing programs of its variant, those reading
// kernel fields by plain loads or their `_probed` twins, or with CWTRACE_NO_BPF_LOOP the
// `_compat` ones (not walk_fds, run on demand).
std::vector<std::string> attached_program_names(bool probed_reads);

// cwtrace's programs in the kernel now (by name), whoever loaded them.
std::vector<BpfProgram> cwtrace_programs();

// Those that process `pid` holds: through a descriptor of the program or of a link to it.
std::vector<BpfProgram> cwtrace_programs_held_by(pid_t pid);

// The highest id of any BPF program now: programs loaded later have higher ids.
uint32_t last_bpf_program_id();

// cwtrace's programs loaded since `last_bpf_program_id()` said `last_id` (another cwtrace that
// ran before, a benchmark's, do not count), waiting up to `patience` for them to go.
std::vector<BpfProgram> cwtrace_programs_since(uint32_t last_id,
                                               std::chrono::milliseconds patience = {});

// The same as lines ("ID name"), for the tests comparing before and after.
std::vector<std::string> cwtrace_bpf_objects();
std::vector<std::string> new_cwtrace_bpf_objects(const std::vector<std::string>& before);

// Waits up to 5 s for the programs added since `before` to go.
void wait_unloaded(const std::vector<std::string>& before);

// ---- cwtrace itself ----

// Whether a test that cannot load BPF fails instead of being skipped: CWTRACE_REQUIRE_BPF=1 (CI),
// or as root on a kernel with BTF, where BPF must load (CWTRACE_REQUIRE_BPF=0 says otherwise).
bool bpf_required();

// What a test does when it cannot run here (BPF refused, a tool missing): a fatal failure when
// BPF is required, so that from SetUp() the body does not run; otherwise marked skipped.
void skip_or_fail(const std::string& why);

// Starts cwtrace with `args` (and NAME=VALUE settings `env` in its environment) and waits until
// its programs are attached. nullptr when it could not start: the test has then failed (BPF
// required) or been marked skipped, and the caller returns.
// Always verbose (-v), so that it says which programs it loaded, and the test fails unless those
// are the run's variant: the twins reading kernel fields through helper calls when the test's
// `env` or the run's environment says CWTRACE_PROBED_READS=1, else those reading them by plain
// loads; CWTRACE_EXPECT_READS=direct|probed|any overrides the run's expectation.
// CWTRACE_TEST_USER_STACKS=fp adds `--user-stacks fp`; a test that chooses its mode itself runs
// in the default variant only and is skipped here.
std::unique_ptr<Process> start_cwtrace(std::vector<std::string> args,
                                       std::vector<std::string> env = {});
// The variant of the programs a run expects loaded, as start_cwtrace() checks it: "direct",
// "probed" or "any".
std::string expected_reads(const std::vector<std::string>& env = {});
// The same with cwtrace started by `command` (e.g. setpriv ... -- /tmp/copy/cwtrace, as another
// user), which ends with the binary, instead of CWTRACE_BIN.
std::unique_ptr<Process> start_cwtrace_as(std::vector<std::string> command,
                                          std::vector<std::string> args,
                                          std::vector<std::string> env = {});

// Sends `sig` and waits up to 20 s for cwtrace to exit: its exit status, nullopt on timeout.
std::optional<int> stop(Process& cwtrace, int sig = SIGINT);

// Stops cwtrace with `sig`, expects exit 0 and returns its JSON report ({"sockets": []}, with a
// failure, when the output is not JSON).
nlohmann::json stop_with_report(Process& cwtrace, int sig = SIGINT);

// A live JSON report (JSON Lines too) held to docs/report.schema.json: an undocumented or
// missing member, a value outside an enum, fails the test (tests/packaging/
// check_report_schema.py, Debian's python3-jsonschema). A python3 start each (~0.5 s): called
// by a few tests whose reports together hold every part (owners in namespaces, sockets found
// at start, periodic reports, late closes), not by every one.
void expect_schema_valid(const std::string& report);

// ---- The fixtures' output and the report ----

// The number in a fixture's line "word N" ("port 4242", "received 1234").
int number_after_space(const std::string& line);

// The port a fixture listens on (peer -l, leaky_server: its line "port N"); 0 when it said
// none within 5 s.
int announced_port(Process& fixture);

// Sockets of the report whose `side` ("remote" or "local") has port `port`.
std::vector<nlohmann::json> sockets_with_port(const nlohmann::json& report, const char* side,
                                              int port);

// The function names of a JSON stack, innermost first.
std::vector<std::string> function_names(const nlohmann::json& stack);

// The names on one line, for failure messages.
std::string joined(const std::vector<std::string>& names);

// Whether `name` is one of `names`.
bool contains(const std::vector<std::string>& names, const std::string& name);

// Whether `needles` appear in `names` in this order (not necessarily adjacent).
bool in_order(const std::vector<std::string>& names, const std::vector<std::string>& needles);

// Nothing dropped by cwtrace itself (ring buffer, origin map, decoder). The other causes in
// stats.lost (stacks not captured, skipped program runs, unresolved accepts, Python stacks) also
// count what happens to other processes on the machine, such as tests running in parallel;
// where they touch a test's own sockets, its assertions on those sockets see it.
::testing::AssertionResult nothing_dropped(const nlohmann::json& stats);

// A whole file's bytes ("" when it cannot be read).
std::string slurp(const std::string& path);

}  // namespace cwtrace::testing
