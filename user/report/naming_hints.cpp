// Hints that name a runtime's generated code (see naming_hints.h).
#include "report/naming_hints.h"

#include <string_view>

#include "report/own_frame.h"
#include "report/runtime.h"

namespace cwtrace {
namespace {

// Code outside every mapped file, not named from a perf map: a JIT's.
bool unnamed_generated(const Frame& f) {
    return f.module.empty() && (f.function.empty() || f.function == "[unknown]");
}

// V8 runs bytecode through one builtin: each JavaScript function interpreted shows as it, the
// same for all, unless node writes a stack frame of its own per function.
bool interpreter_trampoline(const Frame& f) {
    return f.function == "Builtins_InterpreterEntryTrampoline";
}

std::string who(const Origin& o) { return format_process(o.comm, o.pid); }

// A goroutine the standard library (or a module) started opened the socket, and the runtime kept
// only the go statement that created it: the goroutine that asked for the connection is the
// user's, and only GODEBUG=tracebackancestors makes the runtime keep its stack.
std::optional<std::string> go_creator_hint(const Origin& origin) {
    if (origin.own_frame) return std::nullopt;
    const Frame* created_by = nullptr;
    for (const Frame& f : origin.user_stack) {
        if (f.creator != 1) continue;
        if (created_by) return std::nullopt;  // the creator's stack was kept: nothing to add
        created_by = &f;
    }
    const std::string_view package = created_by ? go_package(created_by->function) : "";
    if (package.empty()) return std::nullopt;
    return who(origin) + ": the connection was dialled in a goroutine " + std::string(package) +
           " started; run the program with GODEBUG=tracebackancestors=5 to see the goroutine "
           "that asked for it";
}

}  // namespace

std::optional<std::string> naming_hint(const Origin& origin) {
    bool unnamed = false, trampolines = false, interpreted = false, perf_map = false;
    for (const Frame& f : origin.user_stack) {
        unnamed |= unnamed_generated(f);
        trampolines |= interpreter_trampoline(f);
        interpreted |= f.function == "Interpreter" && is_perf_map(f.module);
        perf_map |= is_perf_map(f.module);
    }
    switch (runtime_of(origin)) {
        case Runtime::Node:
            if (!unnamed && !trampolines) return std::nullopt;
            // --perf-basic-prof alone names compiled functions only; the interpreted ones stay
            // behind the trampoline until each gets a frame of its own.
            if (perf_map)
                return who(origin) +
                       ": JavaScript functions the interpreter ran are unnamed: add "
                       "--interpreted-frames-native-stack to node's --perf-basic-prof";
            return who(origin) +
                   ": JavaScript frames are unnamed: start node with --perf-basic-prof "
                   "--interpreted-frames-native-stack (or NODE_OPTIONS) so it writes "
                   "/tmp/perf-PID.map";
        case Runtime::Java:
            // HotSpot's perf map names the code of compiled methods; an interpreted method runs
            // in the interpreter's code, named only from the JVM's own structures (vmStructs).
            if (!unnamed && perf_map && interpreted)
                return who(origin) +
                       ": Java methods the interpreter ran are unnamed: the perf map names "
                       "compiled methods only (each is once it runs hot; -Xcomp compiles every "
                       "method before its first run)";
            if (!unnamed) return std::nullopt;
            return who(origin) +
                   ": Java frames are unnamed: run java with -XX:+PreserveFramePointer and "
                   "write its perf map (jcmd PID Compiler.perfmap, or -XX:+DumpPerfMapAtExit)";
        case Runtime::Go:
            return go_creator_hint(origin);
        case Runtime::Python:
        case Runtime::Unknown:
            break;
    }
    return std::nullopt;
}

std::optional<std::string> NamingHints::first_for(const Origin& origin) {
    auto hint = naming_hint(origin);
    if (!hint || !origin.pid) return hint;
    if (told_.size() >= kMaxProcesses) told_.clear();
    if (!told_.insert(*origin.pid).second) return std::nullopt;
    return hint;
}

}  // namespace cwtrace
