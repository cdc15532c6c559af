#include "kernel/load_error.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace cwtrace {
namespace {

constexpr const char* kRefused = "the kernel's verifier refused program ";
constexpr const char* kPrivilegeHint = "run as root, or grant CAP_BPF and CAP_PERFMON";

// The name quoted after `prefix` in `line` when `suffix` follows it: "prog 'x': failed" -> x.
std::string quoted_before(const std::string& line, const std::string& prefix,
                          const std::string& suffix) {
    const size_t at = line.find(prefix);
    if (at == std::string::npos) return {};
    const size_t start = at + prefix.size();
    const size_t end = line.find(suffix, start);
    if (end == std::string::npos) return {};
    return line.substr(start, end - start);
}

bool permission(int err) { return err == EPERM || err == EACCES; }

}  // namespace

void note_libbpf_warning(const std::string& line, LoadLog& log) {
    if (std::string map = quoted_before(line, "map '", "': failed to create"); !map.empty())
        log.failed_map = std::move(map);
    // libbpf 1.x: "prog 'x': BPF program load failed: ...", then "prog 'x': failed to load".
    for (const char* suffix : {"': BPF program load failed", "': failed to load"}) {
        if (std::string prog = quoted_before(line, "prog '", suffix);
            !prog.empty() && log.failed_program.empty())
            log.failed_program = std::move(prog);
    }
    if (line.find("-- BEGIN PROG LOAD LOG --") != std::string::npos) log.verifier_log = true;
}

Error classify_load_failure(const std::string& step, int err, const LoadLog& log,
                            const std::string& release) {
    err = std::abs(err);
    const std::string reason = std::strerror(err);
    if (step == "load" && !log.failed_map.empty()) {
        if (permission(err))
            return {"the kernel refused to create BPF map '" + log.failed_map + "': " + reason,
                    kPrivilegeHint};
        // Kernel memory for maps is charged to the memory cgroup (5.11+), to RLIMIT_MEMLOCK before.
        return {"the kernel refused to create BPF map '" + log.failed_map + "': " + reason,
                "raise the memory limit of cwtrace's cgroup (kernels before 5.11: ulimit -l "
                "unlimited), or make the map smaller (CWTRACE_RINGBUF_BYTES, "
                "CWTRACE_ORIGIN_MAP_ENTRIES, CWTRACE_STACK_MAP_ENTRIES)"};
    }
    // A program the verifier looked at and refused, whatever the errno (EACCES, EINVAL, E2BIG):
    // no privilege helps. Without a log, EPERM/EACCES came before any verification.
    if (step == "load" && !log.failed_program.empty() && (log.verifier_log || !permission(err)))
        return {kRefused + log.failed_program + " (Linux " + release + ")",
                "run with -v for its log"};
    const std::string message = "BPF " + step + " failed: " + reason;
    if (permission(err)) return {message, kPrivilegeHint};
    return {message, "run with -v to see libbpf's log"};
}

bool opener_map_refused_memory(const LoadLog& log) {
    return (log.failed_map == "origins" || log.failed_map == "opener_table") &&
           std::abs(log.error) == ENOMEM;
}

bool is_verifier_refusal(const Error& error) { return error.message.rfind(kRefused, 0) == 0; }

}  // namespace cwtrace
