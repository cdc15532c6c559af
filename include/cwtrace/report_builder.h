// Socket table + owners + symbols -> Report (pure data for the renderers).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "cwtrace/abi.h"
#include "cwtrace/report.h"
#include "cwtrace/sock_diag.h"
#include "cwtrace/socket_table.h"
#include "cwtrace/symbolize.h"

namespace cwtrace {

struct ReportInput {
    uint64_t now_ns = 0;  // CLOCK_MONOTONIC, the clock of the kernel's timestamps
    uint64_t min_age_ns = 0;
    double tracing_seconds = 0;
    std::vector<pid_t> pid_filter;  // empty: every owner
    Stats stats;
};

// The flow of a socket found by sock_diag, as the tracer's events name it.
cw_flow flow_of(const DiagSocket& socket);

class ReportBuilder {
  public:
    using StackLookup = std::function<std::vector<uint64_t>(int32_t stack_id)>;

    explicit ReportBuilder(StackLookup stacks);

    // The Python frames of an origin (see PythonTracker), merged into its user stack; nullopt
    // when it has none.
    using PythonFrames = std::function<std::optional<std::vector<Frame>>(const cw_origin&)>;
    void set_python_frames(PythonFrames python) { python_ = std::move(python); }

    // Snapshots a process's mappings while it lives, so its frames resolve after it exits.
    // `task_start_ns` (start_boottime) tells a process from a later one reusing its pid.
    void note_process(uint32_t pid, uint64_t task_start_ns);

    Report build(const SocketTable& table, const ReportInput& input);

    // The sockets in CLOSE_WAIT now, from sock_diag: the backfill at start.
    static std::vector<DiagSocket> close_wait_now();

    // A thread recorded by the kernel side (an opener, or a closer) with its pid, tid, comm
    // and symbolized stacks, whatever its kind; stacks are symbolized once and cached.
    Origin resolve_thread(const cw_origin& thread);

  private:
    Origin resolve_origin(const cw_origin& origin);
    const std::vector<Frame>& kernel_frames(int32_t stack_id);
    std::vector<Frame> user_frames(const cw_origin& origin);
    std::vector<Frame> native_frames(const cw_origin& origin);

    StackLookup stacks_;
    PythonFrames python_;
    std::optional<KernelSymbols> kernel_symbols_;  // loaded on first use
    UserSymbolizer user_symbolizer_;
    using ProcessKey = std::pair<uint32_t, uint64_t>;        // pid, start time
    std::map<ProcessKey, std::optional<ProcessMaps>> maps_;  // nullopt: gone before we looked
    std::unordered_map<int32_t, std::vector<Frame>> kernel_stacks_;
    std::map<std::tuple<uint32_t, uint64_t, int32_t, uint64_t, uint32_t, uint64_t>,
             std::vector<Frame>>
        user_stacks_;
};

}  // namespace cwtrace
