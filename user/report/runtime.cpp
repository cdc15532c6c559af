// The runtime behind an opening path (see runtime.h).
#include "report/runtime.h"

#include <algorithm>
#include <string_view>

namespace cwtrace {
namespace {

std::string_view basename_of(std::string_view path) {
    const size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// "python3.11" -> "python", "libjvm.so" stays: version digits and dots off the end.
std::string_view unversioned(std::string_view name) {
    while (!name.empty() && ((name.back() >= '0' && name.back() <= '9') || name.back() == '.'))
        name.remove_suffix(1);
    return name;
}

Runtime from_frame(const Frame& f) {
    const std::string_view module = basename_of(f.module);
    const std::string_view file = f.file.empty() ? std::string_view(f.module) : f.file;
    if (file.ends_with(".py") || module.starts_with("libpython") || unversioned(module) == "python")
        return Runtime::Python;
    if (module == "libjvm.so" || f.function.starts_with("java.")) return Runtime::Java;
    // Debian's node is a small executable around libnode.so.
    if (unversioned(module) == "node" || unversioned(module) == "nodejs" ||
        module.starts_with("libnode.so") || f.function.starts_with("Builtins_") ||
        f.function.find("node:") != std::string::npos)
        return Runtime::Node;
    // Go's scheduler names its own functions so in every Go binary, stripped ones once named.
    if (f.function == "runtime.goexit" || f.function.starts_with("runtime.") ||
        f.function.starts_with("net/http.") || f.function.starts_with("internal/poll."))
        return Runtime::Go;
    return Runtime::Unknown;
}

Runtime from_comm(std::string_view comm) {
    comm = unversioned(comm);
    if (comm == "python" || comm == "pypy") return Runtime::Python;
    if (comm == "node" || comm == "nodejs") return Runtime::Node;
    if (comm == "java") return Runtime::Java;
    return Runtime::Unknown;
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
