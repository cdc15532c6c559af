// Python frames in opening stacks: which processes run a CPython interpreter (told to the kernel
// side through python_procs), and the frames a captured Python stack stands for, merged with
// the native ones.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <vector>

#include "cwtrace/abi.h"
#include "model/report.h"
#include "python/python_process.h"

namespace cwtrace {

class PythonTracker {
  public:
    using StackRead = std::function<std::optional<cw_py_stack>(uint64_t stack_id)>;

    // Looks whether `pid` (started at `start` ticks, mapped as `maps`) runs CPython; returns its
    // python_procs entry when its version is supported. Remembered either way, so the report can
    // say "python X.Y not supported".
    std::optional<cw_python_proc> inspect(pid_t pid, uint64_t start, const ProcessMaps& maps);

    // Reads the code objects of a captured stack while the process lives (cached), so that the
    // frames resolve even if it exits before the report.
    void warm(const cw_origin& origin, const StackRead& read);

    // The Python frames of an origin, innermost first; nullopt when none apply (not a Python
    // process, or a native thread of one). Failures are frames that say what went wrong.
    std::optional<std::vector<Frame>> frames(const cw_origin& origin, const StackRead& read);

    size_t processes() const { return processes_.size(); }

  private:
    using ProcessKey = std::pair<uint32_t, uint64_t>;  // pid, start ticks
    ProcessKey key_of(const cw_origin& origin) const;
    std::optional<PythonCode> read_code(const ProcessKey& key, const PythonOffsets& offsets,
                                        uint64_t code);
    Frame frame(const ProcessKey& key, const PythonOffsets& offsets, const cw_py_frame& f);

    PythonFiles files_;
    std::map<ProcessKey, std::optional<PythonInterpreter>> processes_;  // nullopt: not CPython
    std::map<std::tuple<uint32_t, uint64_t, uint64_t>, std::optional<PythonCode>> code_;
    std::set<ProcessKey> slow_memory_;  // a read of its memory hung once: never read again
};

// Native frames (innermost first) up to the interpreter's evaluation loop, then the Python
// frames in its place; the interpreter's own outer frames are dropped, the Python ones say
// more. With no evaluation loop among the native frames, the Python frames follow them all.
std::vector<Frame> merge_python_frames(std::vector<Frame> native, std::vector<Frame> python);

}  // namespace cwtrace
