// Stack resolution: symbolized frames of the threads the kernel recorded, cached per process.
#include "report/stack_resolver.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "golang/go_creators.h"
#include "owners/owners.h"
#include "python/python_stacks.h"
#include "symbols/call_site.h"

namespace cwtrace {
namespace {

// Innermost kernel frames that belong to the tracing machinery, not to the socket's code path.
bool is_tracing_frame(const std::string& name) {
    static constexpr std::string_view kPrefixes[] = {"bpf_",   "perf_",   "trace_",  "__traceiter_",
                                                     "__bpf_", "__perf_", "__trace_"};
    return std::any_of(std::begin(kPrefixes), std::end(kPrefixes),
                       [&](std::string_view p) { return name.starts_with(p); });
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

}  // namespace

StackResolver::StackResolver(StackLookup stacks) : stacks_(std::move(stacks)) {}

void StackResolver::note_process(uint32_t pid, uint64_t task_start_ns) {
    auto [it, inserted] = maps_.try_emplace({pid, task_start_ns});
    if (!inserted) return;
    const auto p = static_cast<pid_t>(pid);
    // Read the maps between two identity checks, so they cannot belong to a reused pid.
    if (same_process(p, task_start_ns)) {
        auto maps = maps_reader_.read(p);
        if (maps && same_process(p, task_start_ns)) it->second = std::move(maps);
    }
}

const std::vector<Frame>& StackResolver::kernel_frames(int32_t stack_id) {
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

std::vector<Frame> StackResolver::user_frames(const cw_origin& origin,
                                              std::optional<uint32_t> unwound_id) {
    auto key = std::make_tuple(origin.pid, origin.task_start_ns, origin.user_stack_id,
                               origin.leaf_caller, origin.py_status, origin.py_stack_id,
                               unwound_id ? int64_t{*unwound_id} : int64_t{-1}, origin.go_status);
    if (auto it = user_stacks_.find(key); it != user_stacks_.end()) return it->second;
    // Dwarf mode: the stack unwound from the opening's copy, else the frame-pointer walk.
    std::optional<std::vector<Frame>> unwound;
    if (unwound_id) unwound = unwound_frames(origin, *unwound_id);
    std::vector<Frame> frames = unwound ? std::move(*unwound) : native_frames(origin);
    if (python_)
        if (auto python = python_(origin))
            frames = merge_python_frames(std::move(frames), std::move(*python));
    if (origin.go_status == CW_GO_CAPTURED && origin.py_status == CW_PY_NONE && !frames.empty()) {
        std::vector<Frame> creators = creator_frames(origin);
        frames.insert(frames.end(), std::make_move_iterator(creators.begin()),
                      std::make_move_iterator(creators.end()));
    }
    return user_stacks_[key] = std::move(frames);
}

std::vector<Frame> StackResolver::creator_frames(const cw_origin& origin) {
    std::vector<Frame> frames;
    std::optional<cw_go_creator> creator = go_ ? go_(origin) : std::nullopt;
    const std::optional<ProcessMaps>& maps = maps_[{origin.pid, origin.task_start_ns}];
    if (!creator || !maps) {
        // Recorded, but gone from the kernel's map or the process's mappings unknown: say so.
        Frame lost{"[creator not read]", ""};
        lost.creator = 1;
        frames.push_back(std::move(lost));
        return frames;
    }
    for (const CreatorPc& c : creator_pcs(*creator)) {
        // Return addresses, one for each frame, inlined calls too (the call, then its inline
        // mark in the caller): each is its innermost function.
        Frame frame = std::move(user_frames_at(origin, *maps, c.pc - 1).front());
        frame.creator = c.generation;
        frames.push_back(std::move(frame));
    }
    return frames;
}

std::vector<Frame> StackResolver::native_frames(const cw_origin& origin) {
    if (origin.user_stack_id < 0) return {};
    std::vector<uint64_t> ips = stacks_(origin.user_stack_id);
    note_process(origin.pid, origin.task_start_ns);
    const std::optional<ProcessMaps>& snapshot = maps_[{origin.pid, origin.task_start_ns}];
    if (!snapshot) {
        // The process exited before its mappings could be read: say so, never guess.
        return std::vector<Frame>(ips.size(), Frame{"[exited]", ""});
    }
    const ProcessMaps& maps = *snapshot;

    // A syscall wrapper without a frame hides its caller from a frame-pointer walk; the word
    // at the stack pointer restores it when it really is a return address.
    if (ips.size() >= 1 && origin.leaf_caller && (ips.size() < 2 || ips[1] != origin.leaf_caller)) {
        const Mapping* m = maps.find(origin.leaf_caller);
        // The mapped file itself (deleted, replaced, a container's), as untrusted_file.h says.
        OpenedFile code = m ? maps.open_file(*m, kMaxElfFileBytes) : OpenedFile{};
        if (code && follows_call(code.file->fd(), origin.leaf_caller - m->start + m->file_offset))
            ips.insert(ips.begin() + 1, origin.leaf_caller);
    }
    return frames_at(origin, maps, ips);
}

std::vector<Frame> StackResolver::frames_at(const cw_origin& origin, const ProcessMaps& maps,
                                            const std::vector<uint64_t>& ips) {
    std::vector<Frame> frames;
    for (size_t i = 0; i < ips.size(); ++i) {
        // Outer frames are return addresses: look up the call instruction before them.
        std::vector<Frame> at = user_frames_at(origin, maps, i == 0 ? ips[i] : ips[i] - 1);
        frames.insert(frames.end(), std::make_move_iterator(at.begin()),
                      std::make_move_iterator(at.end()));
    }
    return frames;
}

std::vector<Frame> StackResolver::user_frames_at(const cw_origin& origin, const ProcessMaps& maps,
                                                 uint64_t addr) {
    std::vector<Frame> frames = user_symbolizer_.symbolize_inlined(maps, addr);
    Frame& frame = frames.front();
    if (!frame.module.empty()) return frames;
    auto [it, fresh] = perf_maps_.try_emplace({origin.pid, origin.task_start_ns});
    const auto pid = static_cast<pid_t>(origin.pid);
    const std::string path = PerfMap::path_for(pid);
    if (fresh) {
        // Read between two identity checks: a reused pid's /proc/PID/root is another's.
        const bool alive = same_process(pid, origin.task_start_ns);
        it->second = PerfMap::load(maps, alive);
        if (alive && !same_process(pid, origin.task_start_ns)) it->second.reset();
    }
    if (it->second) {
        if (auto name = it->second->lookup(addr)) {
            frame.function = display_name(*name);
            frame.module = path;
        }
    }
    return frames;
}

void StackResolver::note_user_stack(const UserStackRecord& record) {
    const cw_event_user_stack& h = record.head;
    note_process(h.pid, h.task_start_ns);
    const std::optional<ProcessMaps>& maps = maps_[{h.pid, h.task_start_ns}];
    if (!maps) return;
    StackSample sample{h.ip, h.sp, h.bp, h.tid, record.stack};
    std::vector<StackRead> reads;
    auto ips = unwinder_.unwind({h.pid, h.task_start_ns}, *maps, sample, CW_MAX_STACK_DEPTH,
                                publish_memo_ ? &reads : nullptr);
    if (ips.empty()) return;
    const uint32_t id = unwound_.add(h.hdr.sk, h.opened_ns, ips);
    if (!publish_memo_) return;
    if (auto memo = kernel_unwind_memo(h, reads, id, copy_limit_)) {
        publish_memo_(*memo);
        ++memos_published_;
    }
}

std::optional<std::vector<Frame>> StackResolver::unwound_frames(const cw_origin& origin,
                                                                uint32_t unwound_id) {
    const std::optional<ProcessMaps>& maps = maps_[{origin.pid, origin.task_start_ns}];
    if (!maps) return std::nullopt;
    return frames_at(origin, *maps, unwound_.stack(unwound_id));
}

SharedOrigin StackResolver::resolve_origin(const cw_origin& o, uint64_t sk,
                                           ResolvedOrigins& resolved) {
    if (kind_of(o.kind) == OriginKind::Unknown) return {};
    const auto unwound = unwound_stack(sk, o);
    const OriginKey key{o.kind,
                        o.pid,
                        o.tid,
                        std::string_view(o.comm, strnlen(o.comm, sizeof o.comm)),
                        o.task_start_ns,
                        o.user_stack_id,
                        o.kernel_stack_id,
                        o.leaf_caller,
                        o.py_status,
                        static_cast<int64_t>(o.py_stack_id),
                        unwound ? int64_t{*unwound} : int64_t{-1},
                        o.go_status};
    auto [it, fresh] = resolved.try_emplace(key);
    if (fresh) it->second = resolve_thread(o, unwound);
    return it->second;
}

Origin StackResolver::resolve_thread(const cw_origin& o, std::optional<uint32_t> unwound) {
    Origin origin;
    origin.kind = kind_of(o.kind);
    origin.pid = o.pid;
    origin.tid = o.tid;
    origin.comm = comm_of(o);
    if (o.kernel_stack_id >= 0) origin.kernel_stack = kernel_frames(o.kernel_stack_id);
    if (o.user_stack_id >= 0 || python_ || unwound) origin.user_stack = user_frames(o, unwound);
    if (origin.kind != OriginKind::Unknown) {  // a closer's stack leads nowhere
        if (auto own = own_.first_own(origin.user_stack)) origin.own_frame = uint32_t(*own);
        // Said at normal level, once a process: frames nobody can act on, and how to name them.
        if (auto hint = naming_hints_.first_for(origin)) spdlog::warn("{}", *hint);
    }
    return origin;
}

void StackResolver::forget_stack_ids(const std::unordered_set<int32_t>& ids) {
    std::erase_if(kernel_stacks_, [&](const auto& entry) { return ids.count(entry.first) > 0; });
    std::erase_if(user_stacks_,
                  [&](const auto& entry) { return ids.count(std::get<2>(entry.first)) > 0; });
}

size_t StackResolver::forget_exited(const std::set<ProcessKey>& keep) {
    std::set<ProcessKey> gone;
    auto exited = [&](const ProcessKey& key) {
        if (keep.count(key)) return false;
        if (gone.count(key)) return true;
        if (same_process(static_cast<pid_t>(key.first), key.second)) return false;
        gone.insert(key);
        return true;
    };
    std::erase_if(maps_, [&](const auto& entry) { return exited(entry.first); });
    std::erase_if(perf_maps_, [&](const auto& entry) { return exited(entry.first); });
    std::erase_if(user_stacks_, [&](const auto& entry) {
        return exited({std::get<0>(entry.first), std::get<1>(entry.first)});
    });
    return gone.size();
}

std::string StackResolver::read_losses() const {
    std::string out;
    auto add = [&out](uint64_t n, const std::string& what) {
        if (n) out += (out.empty() ? "" : "; ") + std::to_string(n) + " " + what;
    };
    const std::string refused = untrusted_file_stats().summary();
    if (!refused.empty()) out = "files refused: " + refused;
    add(maps_reader_.truncated(), "process maps cut at their bound");
    add(user_symbolizer_.files_evicted(), "symbol tables dropped from the cache");
    return out;
}

}  // namespace cwtrace
