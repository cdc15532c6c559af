// Folded stacks (Brendan Gregg's collapsed format), the input of flamegraph.pl, inferno and
// speedscope: `comm;outermost;...;innermost COUNT`. Frames are separated by ';' and the count
// follows the line's last space, so a ';' inside a name becomes ':' (C++ names have spaces,
// which the format allows). Kernel frames carry flamegraph.pl's "_[k]" suffix; with --mark-own
// the user's own frame carries "[own]" (an option: the suffix makes it a name of its own, which
// tools that merge folded files by name would keep apart).
#include <map>
#include <string>

#include "render/flame.h"
#include "render/render.h"

namespace cwtrace {
namespace {

std::string folded_name(const FlameFrame& f, bool mark_own) {
    std::string name = f.name;  // display-safe already: no newline can split a line
    for (char& c : name)
        if (c == ';') c = ':';
    if (f.kind == FlameKind::Kernel) return name + "_[k]";
    return mark_own && f.own ? name + "[own]" : name;
}

}  // namespace

std::string render_folded(const Report& report, FlameWeight weight, bool mark_own) {
    // Keyed by the line's text: paths that differ only in a module fold into one line.
    std::map<std::string, uint64_t> lines;
    for (const auto& stack : flame_stacks(report, weight)) {
        std::string line;
        for (const auto& f : stack.frames)
            line += (line.empty() ? "" : ";") + folded_name(f, mark_own);
        lines[line] += stack.count;
    }
    std::string out;
    for (const auto& [line, count] : lines) out += line + " " + std::to_string(count) + "\n";
    return out;
}

}  // namespace cwtrace
