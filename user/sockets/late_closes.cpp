#include "sockets/late_closes.h"

#include <algorithm>
#include <cstring>

#include "kernel/decoder.h"
#include "util/net_format.h"

namespace cwtrace {
namespace {

size_t combine(size_t seed, size_t h) { return seed ^ (h + 0x9e3779b97f4a7c15ULL + (seed << 6)); }

CloseKind close_kind_of(uint32_t kind) {
    switch (kind) {
        case CW_CLOSE_CLOSE:
            return CloseKind::Close;
        case CW_CLOSE_RESET:
            return CloseKind::Reset;
        case CW_CLOSE_EXIT:
            return CloseKind::Exit;
        case CW_CLOSE_KERNEL:
            return CloseKind::Kernel;
        default:
            return CloseKind::Unknown;
    }
}

// A path's identity: its kind and its frames (function and module); never its process.
void append_stack(std::string& key, const std::vector<Frame>& stack) {
    key += '\x1e';
    for (const Frame& f : stack) key += f.function + '\x1f' + f.module + '\x1f';
}

std::string opening_key(const Origin& o) {
    std::string key = to_string(o.kind);
    append_stack(key, o.user_stack);
    append_stack(key, o.kernel_stack);
    return key;
}

std::string closing_key(const Closer& c) {
    std::string key = to_string(c.kind);
    append_stack(key, c.user_stack);
    append_stack(key, c.kernel_stack);
    return key;
}

void add_close(LateCloseGroup& group, const LateClose& socket, size_t max_samples) {
    ++group.count;
    group.total_seconds += socket.close_wait_seconds;
    group.max_seconds = std::max(group.max_seconds, socket.close_wait_seconds);
    if (max_samples == 0) return;
    group.sockets.insert(group.sockets.begin(), socket);
    if (group.sockets.size() > max_samples) group.sockets.pop_back();
}

std::vector<DurationBucket> buckets_of(const Log2Histogram& h) {
    std::vector<DurationBucket> out;
    for (size_t i = h.first_used(); i <= h.last_used() && i < Log2Histogram::kBuckets; ++i)
        out.push_back(
            {Log2Histogram::lower_seconds(i), Log2Histogram::upper_seconds(i), h.buckets()[i]});
    return out;
}

}  // namespace

size_t CloseLog::RawPathHash::operator()(const RawPath& p) const {
    size_t seed = std::hash<uint64_t>()(p.task_start_ns);
    for (uint64_t v :
         {uint64_t{p.kind}, uint64_t{p.pid}, uint64_t(uint32_t(p.user_stack_id)),
          uint64_t(uint32_t(p.kernel_stack_id)), p.leaf_caller, uint64_t(p.unwound), p.py_stack_id})
        seed = combine(seed, std::hash<uint64_t>()(v));
    return seed;
}

CloseLog::CloseLog(uint64_t min_age_ns, std::vector<pid_t> pid_filter, Resolve resolve,
                   CloseLogLimits limits)
    : min_age_ns_(min_age_ns),
      pid_filter_(std::move(pid_filter)),
      resolve_(std::move(resolve)),
      limits_(limits) {
    other_group_.other = true;
}

bool CloseLog::selected(const std::optional<cw_origin>& opener,
                        const std::optional<cw_origin>& closer) const {
    if (pid_filter_.empty()) return true;
    auto wanted = [&](const std::optional<cw_origin>& o) {
        return o && std::find(pid_filter_.begin(), pid_filter_.end(), static_cast<pid_t>(o->pid)) !=
                        pid_filter_.end();
    };
    return wanted(opener) || wanted(closer);
}

void CloseLog::add(const TrackedSocket& socket, const cw_event_leave& leave) {
    std::optional<cw_origin> opener;
    if (socket.origin) opener = *socket.origin;
    if (opener && opener->kind == CW_ORIGIN_UNKNOWN) opener.reset();
    std::optional<cw_origin> closer;
    if (leave.has_closer) closer = leave.closer;
    if (!selected(opener, closer)) return;

    const uint64_t ns = leave.hdr.ts_ns > socket.close_wait_since_ns
                            ? leave.hdr.ts_ns - socket.close_wait_since_ns
                            : 0;
    const double seconds = static_cast<double>(ns) / 1e9;
    RawPath raw;
    if (opener)
        raw = {opener->kind,
               opener->pid,
               opener->task_start_ns,
               opener->user_stack_id,
               opener->kernel_stack_id,
               opener->leaf_caller,
               unwound_of_ ? unwound_of_(*opener, socket.key) : -1,
               opener->py_status == CW_PY_CAPTURED || opener->go_status == CW_GO_CAPTURED
                   ? opener->py_stack_id  // or the Go creator's id: the same word
                   : 0};
    pending_durations_[raw].add(seconds);
    if (opener) pending_openers_.try_emplace(raw, *opener);
    if (ns >= min_age_ns_)
        pending_late_.push_back({opener, raw.unwound, closer, leave.close_kind, socket.flow,
                                 seconds, socket.before_start});
    if (pending_durations_.size() >= limits_.pending || pending_late_.size() >= limits_.pending)
        fold();
}

Origin CloseLog::opening_path(const RawPath& raw, const std::optional<cw_origin>& opener) {
    if (!opener || raw.kind == CW_ORIGIN_UNKNOWN) return {};
    return resolve_opener(*opener, raw.unwound);
}

Origin CloseLog::resolve_opener(const cw_origin& opener, int64_t unwound) {
    if (unwound >= 0 && resolve_unwound_)
        return resolve_unwound_(opener, static_cast<uint32_t>(unwound));
    return resolve_(opener);
}

void CloseLog::fold_durations(const RawPath& raw, const Log2Histogram& histogram) {
    std::optional<cw_origin> opener;
    if (auto it = pending_openers_.find(raw); it != pending_openers_.end()) opener = it->second;
    Origin opening = opening_path(raw, opener);
    std::string key = opening_key(opening);
    auto it = path_index_.find(key);
    if (it == path_index_.end()) {
        if (paths_.size() >= limits_.paths) {
            other_durations_.merge(histogram);
            return;
        }
        it = path_index_.emplace(key, paths_.size()).first;
        paths_.push_back({std::move(key), std::move(opening), {}});
    }
    paths_[it->second].histogram.merge(histogram);
}

void CloseLog::fold_late(const PendingLate& late) {
    Origin opening = late.opener ? resolve_opener(*late.opener, late.opener_unwound) : Origin{};
    Closer closing;
    closing.kind = close_kind_of(late.close_kind);
    LateClose socket;
    socket.inet6 = late.flow.family == 10;
    socket.local = {socket.inet6, late.flow.saddr, late.flow.sport};
    socket.remote = {socket.inet6, late.flow.daddr, late.flow.dport};
    socket.close_wait_seconds = late.seconds;
    socket.before_start = late.before_start;
    if (late.closer) {
        static_cast<Thread&>(closing) = resolve_(*late.closer);
        socket.closer_pid = closing.pid;
        socket.closer_tid = closing.tid;
        socket.closer_comm = closing.comm;
        socket.pid = late.closer->pid;
        socket.comm = comm_of(*late.closer);
    } else if (late.opener) {
        socket.pid = late.opener->pid;
        socket.comm = comm_of(*late.opener);
    }
    std::string key = opening_key(opening) + '\x1d' + closing_key(closing);
    auto it = group_index_.find(key);
    if (it == group_index_.end()) {
        if (groups_.size() >= limits_.groups) {
            add_close(other_group_, socket, limits_.samples_per_group);
            return;
        }
        it = group_index_.emplace(key, groups_.size()).first;
        LateCloseGroup group;
        group.opening = std::move(opening);
        group.closing = std::move(closing);
        groups_.emplace_back(std::move(key), std::move(group));
    }
    add_close(groups_[it->second].second, socket, limits_.samples_per_group);
}

void CloseLog::fold() {
    for (const auto& [raw, histogram] : pending_durations_) fold_durations(raw, histogram);
    for (const PendingLate& late : pending_late_) fold_late(late);
    pending_durations_.clear();
    pending_openers_.clear();
    pending_late_.clear();
}

std::vector<LateCloseGroup> CloseLog::late_closes() {
    fold();
    std::vector<const std::pair<std::string, LateCloseGroup>*> order;
    for (const auto& g : groups_) order.push_back(&g);
    std::sort(order.begin(), order.end(), [](auto* a, auto* b) {
        if (a->second.count != b->second.count) return a->second.count > b->second.count;
        return a->first < b->first;
    });
    std::vector<LateCloseGroup> out;
    for (const auto* g : order) out.push_back(g->second);
    if (other_group_.count) out.push_back(other_group_);
    return out;
}

std::vector<CloseWaitDurations> CloseLog::durations() {
    fold();
    std::vector<const PathDurations*> order;
    for (const auto& p : paths_) order.push_back(&p);
    std::sort(order.begin(), order.end(), [](auto* a, auto* b) {
        if (a->histogram.count() != b->histogram.count())
            return a->histogram.count() > b->histogram.count();
        return a->key < b->key;
    });
    std::vector<CloseWaitDurations> out;
    auto emit = [&](const Origin& opening, const Log2Histogram& h, bool other) {
        out.push_back({opening, h.count(), h.sum_seconds(), other, buckets_of(h)});
    };
    for (const auto* p : order) emit(p->opening, p->histogram, false);
    if (other_durations_.count()) emit(Origin{}, other_durations_, true);
    return out;
}

}  // namespace cwtrace
