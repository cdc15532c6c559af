// What a runtime needs to have its code named in an opening path. Node's JavaScript and Java's
// methods run as code generated at run time, in memory no file backs: cwtrace names it only from
// the perf map the runtime writes when asked (/tmp/perf-PID.map). A path showing such code
// unnamed gets one line saying which flags name it, instead of frames nobody can act on.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <unordered_set>

#include "model/report.h"

namespace cwtrace {

// The hint for an opening path whose runtime code went unnamed (a Node or Java path with frames
// outside every file, or only V8's interpreter trampolines); nullopt when nothing is missing or
// the runtime is neither.
std::optional<std::string> naming_hint(const Origin& origin);

// Each hint once per process, the processes remembered bounded: a host of short-lived node
// processes must not grow the set without end (past the bound, hints are said again).
class NamingHints {
  public:
    static constexpr size_t kMaxProcesses = 4096;
    // The line to say for `origin`, or nullopt when there is none or it was said for its process.
    std::optional<std::string> first_for(const Origin& origin);

  private:
    std::unordered_set<uint32_t> told_;
};

}  // namespace cwtrace
