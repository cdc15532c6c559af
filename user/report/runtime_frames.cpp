// The table of runtimes' frames (see runtime_frames.h).
#include "report/runtime_frames.h"

#include <array>

namespace cwtrace {
namespace {

// One language's marks; the arrays end at their first empty name.
struct Language {
    std::string_view name;
    Runtime runtime = Runtime::Unknown;  // Unknown: the report has no advice in its words
    // Its programs and shared objects, by their names before the version (version_follows()).
    std::array<std::string_view, 4> files{};
    std::array<std::string_view, 3> scripts{};  // the extensions of the code it runs
    // How the names of its own functions start, wherever they are linked, and of its library's.
    std::array<std::string_view, 1> machinery{};
    std::array<std::string_view, 5> library{};
    // Where V8 says its own JavaScript is from: "JS:~internalConnect node:net:1038:25".
    std::string_view v8_location{};
};

constexpr Language kLanguages[] = {
    {.name = "python",
     .runtime = Runtime::Python,
     .files = {"python", "pypy", "libpython"},
     .scripts = {".py", ".pyw", ".pyc"},
     // CPython's evaluation loop, wherever the interpreter is linked (a program embedding it).
     .machinery = {"_PyEval_"}},
    // Go links its runtime and library into the program: its functions tell, in every Go
    // binary, stripped ones once named.
    {.name = "go",
     .runtime = Runtime::Go,
     .machinery = {"runtime."},
     .library = {"net/http.", "internal/poll."}},
    // Debian's node is a small executable around libnode.so; V8's builtins are named from
    // either, or from node's perf map.
    {.name = "node",
     .runtime = Runtime::Node,
     .files = {"node", "nodejs", "libnode"},
     .scripts = {".js", ".mjs", ".cjs"},
     .machinery = {"Builtins_"},
     .v8_location = "node:"},
    {.name = "java",
     .runtime = Runtime::Java,
     .files = {"java", "libjvm"},
     .library = {"java.", "javax.", "jdk.", "sun.", "com.sun."}},
    {.name = "ruby", .files = {"ruby", "libruby"}, .scripts = {".rb"}},
    {.name = "perl", .files = {"perl", "libperl"}, .scripts = {".pl", ".pm"}},
    {.name = "php", .files = {"php", "php-fpm", "php-cgi", "libphp"}, .scripts = {".php"}},
    {.name = "lua", .files = {"lua", "luajit", "liblua", "libluajit"}, .scripts = {".lua"}},
};

const Language& kPython = kLanguages[0];

// Whether `matches` accepts one of `names` (which end at their first empty one).
template <size_t N, typename Match>
bool any_named(const std::array<std::string_view, N>& names, Match matches) {
    for (std::string_view name : names) {
        if (name.empty()) return false;
        if (matches(name)) return true;
    }
    return false;
}

RuntimeFrame frame_of(const Language& language, RuntimeMark mark) {
    return {language.name, language.runtime, mark};
}

std::string_view basename_of(std::string_view path) {
    const size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// What may follow a runtime's name in its file's: a version ("3.11", "-5.1", ".36"), then
// anything ("3.11.so.1.0", "3.11-dbg", "-2.1.0-beta3"), or a shared object's suffix alone
// ("libjvm.so"); not another word ("node_exporter", "node-exporter", "pythonista", "python.py").
bool version_follows(std::string_view rest) {
    if (rest.empty() || rest.starts_with(".so")) return true;
    if (rest.front() == '-' || rest.front() == '.') rest.remove_prefix(1);
    return !rest.empty() && rest.front() >= '0' && rest.front() <= '9';
}

std::optional<RuntimeFrame> runtime_script(std::string_view path) {
    if (path.empty()) return std::nullopt;
    // CPython's names for code of no file of its own: "<frozen importlib._bootstrap>", "<string>".
    if (path.front() == '<' && path.back() == '>') return frame_of(kPython, RuntimeMark::Script);
    for (const Language& language : kLanguages)
        if (any_named(language.scripts, [&](std::string_view ext) { return path.ends_with(ext); }))
            return frame_of(language, RuntimeMark::Script);
    return std::nullopt;
}

}  // namespace

std::optional<RuntimeFrame> runtime_file(std::string_view path) {
    const std::string_view name = basename_of(path);
    for (const Language& language : kLanguages) {
        std::string_view stem;
        const bool found = any_named(language.files, [&](std::string_view file) {
            stem = file;
            return name.starts_with(file) && version_follows(name.substr(file.size()));
        });
        if (found)
            return frame_of(
                language, stem.starts_with("lib") ? RuntimeMark::Library : RuntimeMark::Executable);
    }
    return std::nullopt;
}

std::optional<RuntimeFrame> runtime_function(std::string_view function) {
    const auto starts = [function](std::string_view prefix) {
        return function.starts_with(prefix);
    };
    const size_t blank = function.rfind(' ');
    const std::string_view v8_location =
        blank == std::string_view::npos ? std::string_view{} : function.substr(blank + 1);
    for (const Language& language : kLanguages) {
        if (any_named(language.machinery, starts))
            return frame_of(language, RuntimeMark::Machinery);
        if (any_named(language.library, starts) ||
            (!language.v8_location.empty() && v8_location.starts_with(language.v8_location)))
            return frame_of(language, RuntimeMark::StandardLibrary);
    }
    return std::nullopt;
}

std::optional<RuntimeFrame> runtime_frame(const Frame& f) {
    if (auto file = runtime_file(f.module)) return file;
    // A script's frame has it for module (CPython's frames: co_filename).
    if (auto script = runtime_script(f.module)) return script;
    return runtime_function(f.function);
}

}  // namespace cwtrace
