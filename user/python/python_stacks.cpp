#include "python/python_stacks.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>

#include "owners/owners.h"
#include "python/python_linetable.h"
#include "symbols/usyms.h"

namespace cwtrace {
namespace {

constexpr size_t kMaxCodeObjects = 65536;

uint64_t ns_per_tick() {
    const long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? 1'000'000'000ULL / static_cast<uint64_t>(hz) : 10'000'000ULL;
}

Frame placeholder(std::string text, std::string module = "") {
    return Frame{std::move(text), std::move(module)};
}

bool is_eval_loop(const Frame& f) {
    return f.function.starts_with("_PyEval_EvalFrame") || f.function == "PyEval_EvalFrameEx";
}

}  // namespace

std::optional<cw_python_proc> PythonTracker::inspect(pid_t pid, uint64_t start,
                                                     const ProcessMaps& maps) {
    std::optional<PythonInterpreter> python = find_python(maps, files_);
    auto& known = processes_[{static_cast<uint32_t>(pid), start}];
    const bool news = !known.has_value() && python.has_value();
    known = python;
    if (!python) return std::nullopt;
    if (!python->offsets) {
        if (news)
            spdlog::warn("pid {} runs python {} ({}), not supported: no Python frames for it", pid,
                         to_string(python->version), python->path);
        return std::nullopt;
    }
    cw_python_proc entry = kernel_offsets(*python->offsets);
    entry.runtime_addr = python->runtime_addr;
    entry.start_ticks = start;
    entry.ns_per_tick = ns_per_tick();
    if (news)
        spdlog::debug("pid {}: python {} at {:#x}", pid, to_string(python->version),
                      entry.runtime_addr);
    return entry;
}

PythonTracker::ProcessKey PythonTracker::key_of(const cw_origin& origin) const {
    return {origin.pid, origin.task_start_ns / ns_per_tick()};
}

// A process whose memory did not answer once (mapped from a file its FUSE daemon serves) is not
// read again: each try would cost the whole time budget.
std::optional<PythonCode> PythonTracker::read_code(const ProcessKey& key,
                                                   const PythonOffsets& offsets, uint64_t code) {
    if (slow_memory_.count(key)) return std::nullopt;
    const ProcessMemory memory(static_cast<pid_t>(key.first));
    auto read = read_python_code(memory, offsets, code);
    if (memory.hung()) {
        // Bounded like the code objects: past 16 stuck readers every read is refused as slow at
        // once, so any number of processes may land here; one forgotten is tried once more.
        if (slow_memory_.size() >= kMaxCodeObjects) slow_memory_.clear();
        slow_memory_.insert(key);
    }
    return read;
}

Frame PythonTracker::frame(const ProcessKey& key, const PythonOffsets& offsets,
                           const cw_py_frame& f) {
    // Any process makes as many code objects as it likes: the cache starts over at its bound.
    if (code_.size() >= kMaxCodeObjects) code_.clear();
    auto [it, fresh] = code_.try_emplace({key.first, key.second, f.code});
    if (fresh) {
        const auto pid = static_cast<pid_t>(key.first);
        if (read_start_ticks(pid) == key.second) {
            it->second = read_code(key, offsets, f.code);
        } else {
            code_.erase(it);  // gone: nothing to cache, the next report says the same
            return placeholder("[python frame: process exited]");
        }
    }
    if (!it->second) return placeholder("[python frame unreadable]");
    const PythonCode& code = *it->second;
    Frame out{code.qualname, code.filename};
    out.file = code.filename;
    out.line = python_line_at(code.line_table, code.first_line, f.offset);
    return out;
}

void PythonTracker::warm(const cw_origin& origin, const StackRead& read) {
    if (origin.py_status == CW_PY_CAPTURED) frames(origin, read);
}

std::optional<std::vector<Frame>> PythonTracker::frames(const cw_origin& origin,
                                                        const StackRead& read) {
    const ProcessKey key = key_of(origin);
    auto known = processes_.find(key);
    const PythonInterpreter* python =
        known != processes_.end() && known->second ? &*known->second : nullptr;
    switch (origin.py_status) {
        case CW_PY_CAPTURED:
            break;
        case CW_PY_LOST:
            return std::vector<Frame>{placeholder("[python stack not captured]")};
        case CW_PY_NONE:
            if (python && !python->offsets)
                return std::vector<Frame>{placeholder(
                    "[python " + to_string(python->version) + " not supported]", python->path)};
            return std::nullopt;
        default:
            return std::nullopt;
    }
    std::optional<cw_py_stack> stack = read(origin.py_stack_id);
    if (!stack || !python || !python->offsets)
        return std::vector<Frame>{placeholder("[python stack not captured]")};
    std::vector<Frame> out;
    const uint32_t depth = std::min<uint32_t>(stack->depth, CW_PY_MAX_FRAMES);
    for (uint32_t i = 0; i < depth; ++i)
        out.push_back(frame(key, *python->offsets, stack->frames[i]));
    if (stack->truncated) out.push_back(placeholder("[python frames truncated]"));
    return out;
}

std::vector<Frame> merge_python_frames(std::vector<Frame> native, std::vector<Frame> python) {
    auto eval = std::find_if(native.begin(), native.end(), is_eval_loop);
    native.erase(eval, native.end());
    native.insert(native.end(), std::make_move_iterator(python.begin()),
                  std::make_move_iterator(python.end()));
    return native;
}

}  // namespace cwtrace
