#include <signal.h>

#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "cwtrace/call_site.h"
#include "cwtrace/net_format.h"
#include "cwtrace/owners.h"
#include "cwtrace/report_builder.h"

namespace cwtrace {
namespace {

// Innermost kernel frames that belong to the tracing machinery, not to the socket's code path.
bool is_tracing_frame(const std::string& name) {
    static constexpr std::string_view kPrefixes[] = {"bpf_",   "perf_",   "trace_",  "__traceiter_",
                                                     "__bpf_", "__perf_", "__trace_"};
    return std::any_of(std::begin(kPrefixes), std::end(kPrefixes),
                       [&](std::string_view p) { return name.starts_with(p); });
}

std::string comm_of(const cw_origin& origin) {
    return std::string(origin.comm, strnlen(origin.comm, sizeof origin.comm));
}

OriginKind kind_of(uint32_t kind) {
    switch (kind) {
        case CW_ORIGIN_CONNECT:
            return OriginKind::Connect;
        case CW_ORIGIN_ACCEPT:
            return OriginKind::Accept;
        default:
            return OriginKind::Unknown;
    }
}

bool selected(const std::vector<pid_t>& filter, std::optional<uint32_t> owner,
              const Origin& origin) {
    if (filter.empty()) return true;
    // An owner unknown now (e.g. not yet accepted) is judged by who opened it.
    auto pid = owner ? owner : origin.pid;
    return pid && std::find(filter.begin(), filter.end(), static_cast<pid_t>(*pid)) != filter.end();
}

}  // namespace

ReportBuilder::ReportBuilder(StackLookup stacks) : stacks_(std::move(stacks)) {}

void ReportBuilder::note_process(uint32_t pid, uint64_t task_start_ns) {
    auto [it, inserted] = maps_.try_emplace({pid, task_start_ns});
    if (!inserted) return;
    const auto p = static_cast<pid_t>(pid);
    // Read the maps between two identity checks, so they cannot belong to a reused pid.
    if (same_process(p, task_start_ns)) {
        auto maps = ProcessMaps::read(p);
        if (maps && same_process(p, task_start_ns)) it->second = std::move(maps);
    }
}

const std::vector<Frame>& ReportBuilder::kernel_frames(int32_t stack_id) {
    auto [it, inserted] = kernel_stacks_.try_emplace(stack_id);
    if (!inserted) return it->second;
    if (!kernel_symbols_) kernel_symbols_ = KernelSymbols::load();
    bool in_tracing = true;
    for (uint64_t ip : stacks_(stack_id)) {
        std::string name = kernel_symbols_->lookup(ip).value_or("[unknown]");
        if (in_tracing && is_tracing_frame(name)) continue;
        in_tracing = false;
        it->second.push_back({name, ""});
    }
    return it->second;
}

std::vector<Frame> ReportBuilder::user_frames(const cw_origin& origin) {
    auto key =
        std::make_tuple(origin.pid, origin.task_start_ns, origin.user_stack_id, origin.leaf_caller);
    if (auto it = user_stacks_.find(key); it != user_stacks_.end()) return it->second;
    std::vector<uint64_t> ips = stacks_(origin.user_stack_id);
    note_process(origin.pid, origin.task_start_ns);
    const std::optional<ProcessMaps>& snapshot = maps_[{origin.pid, origin.task_start_ns}];
    if (!snapshot) {
        // The process exited before its mappings could be read: say so, never guess.
        return user_stacks_[key] = std::vector<Frame>(ips.size(), Frame{"[exited]", ""});
    }
    const ProcessMaps& maps = *snapshot;

    // A syscall wrapper without a frame hides its caller from a frame-pointer walk; the word
    // at the stack pointer restores it when it really is a return address.
    if (ips.size() >= 1 && origin.leaf_caller && (ips.size() < 2 || ips[1] != origin.leaf_caller)) {
        const Mapping* m = maps.find(origin.leaf_caller);
        if (m && follows_call(m->path, origin.leaf_caller - m->start + m->file_offset))
            ips.insert(ips.begin() + 1, origin.leaf_caller);
    }
    std::vector<Frame> frames;
    for (size_t i = 0; i < ips.size(); ++i) {
        // Outer frames are return addresses: look up the call instruction before them.
        frames.push_back(user_symbolizer_.symbolize(maps, i == 0 ? ips[i] : ips[i] - 1));
    }
    return user_stacks_[key] = frames;
}

Origin ReportBuilder::resolve_origin(const cw_origin& o) {
    Origin origin;
    origin.kind = kind_of(o.kind);
    if (origin.kind == OriginKind::Unknown) return origin;
    origin.pid = o.pid;
    origin.tid = o.tid;
    origin.comm = comm_of(o);
    if (o.kernel_stack_id >= 0) origin.kernel_stack = kernel_frames(o.kernel_stack_id);
    if (o.user_stack_id >= 0) origin.user_stack = user_frames(o);
    return origin;
}

Report ReportBuilder::build(const SocketTable& table, const ReportInput& input) {
    Report report;
    report.min_age_seconds = static_cast<double>(input.min_age_ns) / 1e9;
    report.tracing_seconds = input.tracing_seconds;
    report.stats = input.stats;

    const auto stuck = table.at_least(input.now_ns, input.min_age_ns);
    std::unordered_set<uint64_t> inodes;
    for (const TrackedSocket* s : stuck)
        if (s->ino) inodes.insert(s->ino);
    const auto owners = find_socket_owners(inodes);

    for (const TrackedSocket* s : stuck) {
        SocketEntry entry;
        if (auto it = owners.find(s->ino); s->ino && it != owners.end()) {
            entry.pid = static_cast<uint32_t>(it->second.pid);
            entry.comm = it->second.comm;
        }
        if (s->origin) entry.origin = resolve_origin(*s->origin);
        if (!selected(input.pid_filter, entry.pid, entry.origin)) continue;
        entry.inet6 = s->inet6;
        entry.local = {format_addr(s->inet6, s->saddr), s->sport};
        entry.remote = {format_addr(s->inet6, s->daddr), s->dport};
        entry.close_wait_seconds = static_cast<double>(input.now_ns - s->close_wait_since_ns) / 1e9;
        entry.before_start = s->before_start;
        report.sockets.push_back(std::move(entry));
    }
    return report;
}

}  // namespace cwtrace
