// The runtime behind an opening path (see runtime.h).
#include "report/runtime.h"

#include <algorithm>
#include <string_view>

#include "report/runtime_frames.h"

namespace cwtrace {
namespace {

Runtime from_frame(const Frame& f) {
    const auto r = runtime_frame(f);
    return r ? r->runtime : Runtime::Unknown;
}

Runtime from_comm(std::string_view comm) {
    const auto r = runtime_file(comm);
    return r && r->mark == RuntimeMark::Executable ? r->runtime : Runtime::Unknown;
}

// node's frames (native, or JavaScript named from its perf map: "JS:~processTicksAndRejections
// node:internal/process/task_queues:67:35") through which the event loop calls JavaScript.
bool event_loop_frame(const Frame& f) {
    const std::string_view fn = f.function;
    if (fn == "uv_run" || fn.starts_with("node::InternalCallbackScope::Close") ||
        fn.starts_with("node::InternalMakeCallback"))
        return true;
    // V8's kind, its tier's mark ('~' interpreted, '^' baseline, '*' optimized...), the name.
    const size_t colon = fn.find(':');
    if (colon == std::string_view::npos) return false;
    std::string_view js = fn.substr(colon + 1);
    js = js.substr(0, js.find(' '));
    if (!js.empty() && std::string_view("~^+*").find(js.front()) != std::string_view::npos)
        js.remove_prefix(1);
    return js == "processTicksAndRejections" || js == "processImmediate" || js == "listOnTimeout";
}

}  // namespace

bool opened_from_event_loop(const Origin& origin) {
    if (runtime_of(origin) != Runtime::Node) return false;
    // The innermost such frame: a frame of the user's own inside it ran in the same turn.
    const auto& stack = origin.user_stack;
    const auto loop = std::find_if(stack.begin(), stack.end(), event_loop_frame);
    if (loop == stack.end()) return false;
    return !origin.own_frame || *origin.own_frame > static_cast<size_t>(loop - stack.begin());
}

Runtime runtime_of(const Origin& origin, const std::optional<std::string>& comm) {
    for (const Frame& f : origin.user_stack)
        if (const Runtime r = from_frame(f); r != Runtime::Unknown) return r;
    const std::optional<std::string>& name = origin.comm ? origin.comm : comm;
    return name ? from_comm(*name) : Runtime::Unknown;
}

}  // namespace cwtrace
