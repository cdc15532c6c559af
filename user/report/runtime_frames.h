// Which frames are a language runtime's, and which runtime's: one table, read by the runtime of
// an opening path (report/runtime), the user's own code (report/own_frame) and the flame
// graphs' colours (render/flame), so that the three never disagree about a frame.
#pragma once

#include <optional>
#include <string_view>

#include "model/report.h"

namespace cwtrace {

// What in a frame tells whose it is.
enum class RuntimeMark {
    Executable,  // its module is the runtime's program: "python3.11", "node", "php-fpm8.2"
    Library,     // its module is the runtime's shared object: "libpython3.11.so.1.0", "libjvm.so"
    Script,      // its file is code the runtime runs, the user's or not: "crawler.py"
    Machinery,   // its function is the runtime's own wherever it is linked: "runtime.goexit",
                 // "_PyEval_EvalFrameDefault", "Builtins_JSEntry"
    StandardLibrary,  // its function is the language's library: "net/http.Get", "java.net.Socket"
};

struct RuntimeFrame {
    std::string_view language;  // "python", "go", "node", "java", "ruby", "perl", "php", "lua"
    Runtime runtime;            // Unknown for a language the report has no advice in
    RuntimeMark mark;
};

// Whether the frame is code of the runtime itself (its program, shared object or machinery),
// never the user's; a script or a standard library's function is not.
inline bool runtime_code(const RuntimeFrame& r) {
    return r.mark == RuntimeMark::Executable || r.mark == RuntimeMark::Library ||
           r.mark == RuntimeMark::Machinery;
}

// The runtime a frame is marked by: its module (a runtime's program or shared object, or a
// script), else its function; nullopt for any other frame (libc, a native
// program's code, a JIT's code of no known runtime, a placeholder).
std::optional<RuntimeFrame> runtime_frame(const Frame& frame);

// The runtime whose program or shared object `path` is (a path, a file name, or a process's
// name): versions and the shared object's suffix aside ("python3.11", "libluajit-5.1.so.2",
// "python3.11-dbg"); not "node_exporter" nor "pythonista".
std::optional<RuntimeFrame> runtime_file(std::string_view path);

// The runtime whose machinery or standard library a function's name is ("runtime.goexit",
// "java.net.Socket.connect", "JS:~connect node:net:1208:18"); nullopt for any other.
std::optional<RuntimeFrame> runtime_function(std::string_view function);

}  // namespace cwtrace
