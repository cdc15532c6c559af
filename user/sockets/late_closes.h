// Sockets that left CLOSE_WAIT during the run: per opening path, a log2 histogram of the time they
// spent there; and the late ones (at least min-age), grouped by (opening path, closing path).
// Memory stays flat however long cwtrace runs: closes are kept per process and stack id only
// until a bound, then folded into aggregates keyed by symbolized code path, which keep a bounded
// sample of sockets each; paths past a bound are folded together into one "other" aggregate.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cwtrace/abi.h"
#include "model/report.h"
#include "sockets/socket_table.h"
#include "util/histogram.h"

namespace cwtrace {

struct CloseLogLimits {
    size_t pending = 4096;         // closes held unsymbolized (per process) before folding
    size_t paths = 512;            // opening paths with a histogram of their own
    size_t groups = 256;           // (opening, closing) path pairs of late closes
    size_t samples_per_group = 5;  // sockets listed per group: the most recent ones
};

class CloseLog {
  public:
    // A recorded thread (opener or closer) to pid, tid, comm and symbolized stacks.
    using Resolve = std::function<Origin(const cw_origin&)>;

    CloseLog(uint64_t min_age_ns, std::vector<pid_t> pid_filter, Resolve resolve,
             CloseLogLimits limits = {});

    // Dwarf mode: openers whose stack was unwound from a copy are told apart by that stack
    // (`unwound_of`: its id for an opener and its socket, -1 for none) and resolved with it.
    using UnwoundOf = std::function<int64_t(const cw_origin& opener, uint64_t sk)>;
    using ResolveUnwound = std::function<Origin(const cw_origin& opener, uint32_t unwound_id)>;
    void set_unwound_openers(UnwoundOf unwound_of, ResolveUnwound resolve) {
        unwound_of_ = std::move(unwound_of);
        resolve_unwound_ = std::move(resolve);
    }

    // `socket`, as the table had it, left CLOSE_WAIT with `leave`.
    void add(const TrackedSocket& socket, const cw_event_leave& leave);

    // Symbolizes the pending closes and folds them into the aggregates.
    void fold();

    // fold(), then the aggregates as report data: groups with most sockets first; histograms
    // with most sockets first; the "other" aggregate last.
    std::vector<LateCloseGroup> late_closes();
    std::vector<CloseWaitDurations> durations();

    size_t pending() const { return pending_late_.size() + pending_durations_.size(); }

  private:
    // An opening path as the kernel names it: per process, by stack id.
    struct RawPath {
        uint32_t kind = 0, pid = 0;
        uint64_t task_start_ns = 0;
        int32_t user_stack_id = 0, kernel_stack_id = 0;
        uint64_t leaf_caller = 0;
        int64_t unwound = -1;      // dwarf mode: the unwound stack's id
        uint64_t py_stack_id = 0;  // the Python stack's key when captured
        bool operator==(const RawPath&) const = default;
    };
    struct RawPathHash {
        size_t operator()(const RawPath& p) const;
    };
    struct PendingLate {
        std::optional<cw_origin> opener;
        int64_t opener_unwound = -1;
        std::optional<cw_origin> closer;  // process context only
        uint32_t close_kind = CW_CLOSE_UNKNOWN;
        cw_flow flow = {};
        double seconds = 0;
        bool before_start = false;
    };
    struct PathDurations {
        std::string key;
        Origin opening;
        Log2Histogram histogram;
    };

    bool selected(const std::optional<cw_origin>& opener,
                  const std::optional<cw_origin>& closer) const;
    Origin opening_path(const RawPath& raw, const std::optional<cw_origin>& opener);
    Origin resolve_opener(const cw_origin& opener, int64_t unwound);
    void fold_late(const PendingLate& late);
    void fold_durations(const RawPath& raw, const Log2Histogram& histogram);

    uint64_t min_age_ns_;
    std::vector<pid_t> pid_filter_;
    Resolve resolve_;
    UnwoundOf unwound_of_;
    ResolveUnwound resolve_unwound_;
    CloseLogLimits limits_;

    std::unordered_map<RawPath, Log2Histogram, RawPathHash> pending_durations_;
    std::unordered_map<RawPath, cw_origin, RawPathHash> pending_openers_;
    std::vector<PendingLate> pending_late_;

    std::vector<PathDurations> paths_;
    std::unordered_map<std::string, size_t> path_index_;
    Log2Histogram other_durations_;
    std::vector<std::pair<std::string, LateCloseGroup>> groups_;
    std::unordered_map<std::string, size_t> group_index_;
    LateCloseGroup other_group_;
};

}  // namespace cwtrace
