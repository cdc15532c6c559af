// Which frames of an opening path are the user's own, and the library of the others (see
// own_frame.h).
#include "report/own_frame.h"

#include <algorithm>

#include "report/runtime_frames.h"
#include "symbols/perf_map.h"

namespace cwtrace {
namespace {

using namespace std::string_view_literals;

bool contains(std::string_view s, std::string_view part) {
    return s.find(part) != std::string_view::npos;
}

std::string_view basename_of(std::string_view path) {
    const size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// What the frame is, read from its module: each kind has its own rules.
enum class Kind { Placeholder, Python, PerfMap, Native };

Kind kind_of(const Frame& f) {
    // "[unknown]", "[python stack not captured]", a frame with no module: nobody's.
    if (f.function.empty() || f.function.front() == '[' || f.module.empty())
        return Kind::Placeholder;
    if (auto r = runtime_frame(f);
        r && r->mark == RuntimeMark::Script && r->runtime == Runtime::Python)
        return Kind::Python;
    if (is_perf_map(f.module)) return Kind::PerfMap;
    return Kind::Native;
}

// ---- Python: the standard library and installed packages are not the user's. ----

// Where the standard library starts in a path: "/usr/lib/python3.11/", a venv's or pyenv's
// ".../lib/python3.11/" (and lib64); npos when the path is not in one.
size_t stdlib_end(std::string_view path) {
    for (std::string_view lib : {"/lib/python"sv, "/lib64/python"sv, "/lib/pypy"sv}) {
        size_t at = path.find(lib);
        if (at == std::string_view::npos) continue;
        at += lib.size();
        while (at < path.size() && ((path[at] >= '0' && path[at] <= '9') || path[at] == '.')) ++at;
        if (at < path.size() && path[at] == '/') return at + 1;
    }
    return std::string_view::npos;
}

// After "site-packages/" or "dist-packages/"; npos when in neither.
size_t packages_end(std::string_view path) {
    for (std::string_view dir : {"/site-packages/"sv, "/dist-packages/"sv}) {
        const size_t at = path.find(dir);
        if (at != std::string_view::npos) return at + dir.size();
    }
    return std::string_view::npos;
}

bool python_library(std::string_view path) {
    return path.starts_with("<frozen ") || packages_end(path) != std::string_view::npos ||
           stdlib_end(path) != std::string_view::npos;
}

// "http/client.py" -> "http.client"; "json/__init__.py" -> "json".
std::string dotted_module(std::string_view rel) {
    for (std::string_view ext : {".pyc"sv, ".pyw"sv, ".py"sv})
        if (rel.ends_with(ext)) {
            rel.remove_suffix(ext.size());
            break;
        }
    if (rel.ends_with("/__init__")) rel.remove_suffix(9);
    std::string out(rel);
    std::replace(out.begin(), out.end(), '/', '.');
    return out;
}

std::string python_library_of(std::string_view path) {
    if (path.starts_with("<frozen ")) return std::string(path.substr(8, path.size() - 9));
    if (size_t at = packages_end(path); at != std::string_view::npos) {
        std::string_view rel = path.substr(at);
        const size_t slash = rel.find('/');
        if (slash != std::string_view::npos) return std::string(rel.substr(0, slash));
        return dotted_module(rel);  // a module of its own: "six.py"
    }
    if (size_t at = stdlib_end(path); at != std::string_view::npos)
        return dotted_module(path.substr(at));
    return "";
}

// ---- Native: shared objects, and executables that are a language's runtime. ----

bool shared_object(std::string_view name) {
    const size_t so = name.find(".so");
    return so != std::string_view::npos && (so + 3 == name.size() || name[so + 3] == '.');
}

// A stack with Go's functions in an executable: Go links its runtime and libraries into the
// program (a Go shared object loaded by another program leaves that program's frames alone).
bool go_stack(const std::vector<Frame>& stack) {
    return std::any_of(stack.begin(), stack.end(), [](const Frame& f) {
        if (kind_of(f) != Kind::Native || shared_object(basename_of(f.module))) return false;
        const auto r = runtime_frame(f);
        return r && r->runtime == Runtime::Go;
    });
}

// In a Go binary the runtime, the standard library and third-party modules are linked into
// the main executable too: only the main package counts as the user's (the module's other
// packages need --own until the binary's build info is read).
bool go_own(std::string_view fn) {
    const std::string_view pkg = go_package(fn);
    return pkg == "main";
}

bool native_own(const Frame& f, bool in_go) {
    if (f.module.front() == '[' || shared_object(basename_of(f.module))) return false;
    return in_go ? go_own(f.function) : true;
}

std::string native_library_of(const Frame& f) {
    if (!go_package(f.function).empty() && !shared_object(basename_of(f.module)))
        return std::string(go_package(f.function));
    std::string_view name = basename_of(f.module);
    if (const size_t so = name.find(".so"); so != std::string_view::npos && shared_object(name))
        name = name.substr(0, so);
    return std::string(name);
}

// ---- Perf maps: names a JIT wrote. V8 (Node), the JVM, or any other. ----

// V8's "LazyCompile:*connect node:net:1208:18": the kind before the colon, then the name, then
// where the code came from.
struct V8Name {
    std::string_view kind, location;
};

std::optional<V8Name> v8_name(std::string_view fn) {
    const size_t colon = fn.find(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    const std::string_view kind = fn.substr(0, colon);
    if (!std::all_of(kind.begin(), kind.end(),
                     [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }))
        return std::nullopt;
    const size_t space = fn.find(' ', colon);
    return V8Name{kind,
                  space == std::string_view::npos ? std::string_view{} : fn.substr(space + 1)};
}

// A JVM method as cwtrace shows it ("LeakyJava.openConnection": the default package too) or as
// perf-map agents write it: "Ljava/net/Socket;::connect" or "java.net.Socket::connect": its
// class, dotted; "" when not one.
std::string java_class(std::string_view fn) {
    if (java_method_name(fn)) return std::string(fn.substr(0, fn.rfind('.')));
    const size_t sep = fn.find("::");
    if (sep == std::string_view::npos) return "";
    std::string_view cls = fn.substr(0, sep);
    if (cls.starts_with('L') && cls.ends_with(';')) cls = cls.substr(1, cls.size() - 2);
    std::string out(cls);
    std::replace(out.begin(), out.end(), '/', '.');
    return out.find('.') == std::string::npos ? "" : out;
}

bool java_library(std::string_view cls) {
    const auto r = runtime_function(cls);
    return r && r->runtime == Runtime::Java;
}

// "node:net:1208:18" -> "node:net"; ".../node_modules/@scope/pkg/x.js:3:5" -> "@scope/pkg".
std::string v8_library_of(std::string_view location) {
    if (location.starts_with("node:")) {
        const size_t end = location.find(':', 5);
        return std::string(location.substr(0, end));
    }
    const size_t nm = location.rfind("/node_modules/");
    if (nm == std::string_view::npos) return "";
    std::string_view rest = location.substr(nm + 14);
    size_t end = rest.find('/');
    if (rest.starts_with('@') && end != std::string_view::npos) end = rest.find('/', end + 1);
    return std::string(rest.substr(0, end));
}

// Code HotSpot generates that is no method: its interpreter, the stub that calls into Java,
// adapters, runtime stubs ("new_instance Runtime1 stub", "SafepointBlob", "ic_miss_stub").
bool hotspot_blob(std::string_view fn) {
    for (std::string_view name : {"Interpreter"sv, "StubRoutines"sv, "I2C/C2I adapters"sv,
                                  "MethodHandles adapters"sv, "native signature handlers"sv})
        if (fn.starts_with(name)) return true;
    return fn.ends_with(" stub") || fn.ends_with("_stub") || fn.ends_with("Blob");
}

bool perf_map_own(std::string_view fn) {
    if (auto v8 = v8_name(fn)) {
        // Builtins, stubs, bytecode handlers and code with no source are V8's own.
        const std::string_view at = v8->location;
        return !at.empty() && !at.starts_with("node:") && !contains(at, "/node_modules/") &&
               (at.front() == '/' || at.starts_with("file://"));
    }
    if (const std::string cls = java_class(fn); !cls.empty()) return !java_library(cls);
    if (contains(fn, "::") || hotspot_blob(fn)) return false;  // the JVM's stubs
    return true;                                               // another JIT's code: the program's
}

std::string perf_map_library_of(std::string_view fn) {
    if (auto v8 = v8_name(fn)) {
        std::string lib = v8_library_of(v8->location);
        return lib.empty() && v8->location.empty() ? "v8" : lib;
    }
    std::string cls = java_class(fn);
    if (const size_t dot = cls.rfind('.'); dot != std::string::npos) cls.resize(dot);
    return cls;
}

bool own_by_rules(const Frame& f, bool in_go) {
    // python3.11, php-fpm8.2, the Go scheduler, V8's builtins: the user's code runs inside them.
    if (auto r = runtime_frame(f); r && runtime_code(*r)) return false;
    switch (kind_of(f)) {
        case Kind::Placeholder:
            return false;
        case Kind::Python:
            return !python_library(f.module);
        case Kind::PerfMap:
            return perf_map_own(f.function);
        case Kind::Native:
            return native_own(f, in_go);
    }
    return false;
}

}  // namespace

std::string_view go_package(std::string_view fn) {
    const std::string_view head = fn.substr(0, std::min(fn.find('('), fn.find('[')));
    const size_t slash = head.rfind('/');
    const size_t dot = head.find('.', slash == std::string_view::npos ? 0 : slash + 1);
    return dot == std::string_view::npos ? std::string_view{} : fn.substr(0, dot);
}

bool is_perf_map(std::string_view module) {
    std::string_view name = basename_of(module);
    if (!name.starts_with("perf-") || !name.ends_with(".map")) return false;
    name = name.substr(5, name.size() - 9);
    return !name.empty() &&
           std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Result<OwnCode> OwnCode::with_patterns(const std::vector<std::string>& patterns) {
    OwnCode own;
    for (const std::string& p : patterns) {
        try {
            own.patterns_.emplace_back(p, std::regex::ECMAScript | std::regex::optimize);
        } catch (const std::regex_error& e) {
            return Error{"--own " + p + ": not a regular expression (" + e.what() + ")", ""};
        }
    }
    return own;
}

bool OwnCode::is_own(const Frame& f, bool in_go) const {
    if (kind_of(f) == Kind::Placeholder) return false;
    const bool chosen = std::any_of(patterns_.begin(), patterns_.end(), [&](const std::regex& r) {
        return std::regex_search(f.function, r) || std::regex_search(f.module, r) ||
               (!f.file.empty() && std::regex_search(f.file, r));
    });
    return chosen || own_by_rules(f, in_go);
}

std::optional<size_t> OwnCode::first_own(const std::vector<Frame>& user_stack) const {
    const bool in_go = go_stack(user_stack);
    for (size_t i = 0; i < user_stack.size(); ++i)
        if (is_own(user_stack[i], in_go)) return i;
    return std::nullopt;
}

std::vector<bool> OwnCode::own_frames(const std::vector<Frame>& user_stack) const {
    const bool in_go = go_stack(user_stack);
    std::vector<bool> own(user_stack.size());
    for (size_t i = 0; i < user_stack.size(); ++i) own[i] = is_own(user_stack[i], in_go);
    return own;
}

std::string library_of(const Frame& f) {
    switch (kind_of(f)) {
        case Kind::Placeholder:
            return "";
        case Kind::Python:
            return python_library_of(f.module);
        case Kind::PerfMap:
            return perf_map_library_of(f.function);
        case Kind::Native:
            return native_library_of(f);
    }
    return "";
}

}  // namespace cwtrace
