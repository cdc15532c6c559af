// The text renderers' shared layout (see text_layout.h).
#include "render/text_layout.h"

#include <algorithm>

#include "report/stack_folding.h"
#include "util/display.h"

namespace cwtrace::text_layout {
namespace {

const std::string kLabelIndent = "    ";
const std::string kFrameIndent = "      ";

bool starts_code_point(char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }

}  // namespace

size_t width(std::string_view s) { return std::count_if(s.begin(), s.end(), starts_code_point); }

std::string shorten(const std::string& s, size_t max) {
    if (width(s) <= max) return s;
    if (max == 0) return "";
    std::vector<size_t> starts;  // byte offset of each code point
    for (size_t i = 0; i < s.size(); ++i)
        if (starts_code_point(s[i])) starts.push_back(i);
    const size_t head = max / 2, tail = max - 1 - head;
    return s.substr(0, starts[head]) + "…" + (tail ? s.substr(starts[starts.size() - tail]) : "");
}

std::string shorten_path(const std::string& s, size_t max) {
    const size_t w = width(s);
    if (w <= max) return s;
    if (max == 0) return "";
    // The last max - 1 code points, after "…".
    size_t skip = w - (max - 1), start = 0;
    for (size_t seen = 0; start < s.size(); ++start)
        if (starts_code_point(s[start]) && seen++ == skip) break;
    // Start at a '/' near the cut, so that what is left reads as a path: "…/urllib3/util/...",
    // not "…ckages/urllib3/util/...". A far one would give up columns a name could use.
    constexpr size_t kNear = 16;
    const size_t slash = s.find('/', start);
    if (slash != std::string::npos && slash - start <= kNear) start = slash;
    return "…" + s.substr(start);
}

std::string pad_right(const std::string& s, size_t w) {
    return s + std::string(w - std::min(w, width(s)), ' ');
}

std::string pad_left(const std::string& s, size_t w) {
    return std::string(w - std::min(w, width(s)), ' ') + s;
}

Layout::Layout(size_t columns, bool color)
    : columns_(std::clamp(columns, kMinWidth, kMaxWidth)), color_(color) {}

std::string Layout::wrap(const std::string& indent, const std::string& cont,
                         const std::vector<std::string>& words, const std::string& sep) const {
    std::string out, line = indent;
    bool line_empty = true;
    for (const auto& w : words) {
        if (!line_empty && width(line) + sep.size() + width(w) > columns_) {
            out += line + "\n";
            line = cont;
            line_empty = true;
        }
        if (!line_empty) line += sep;
        line += shorten(w, columns_ - std::min(columns_, width(line)));
        line_empty = false;
    }
    return out + line + "\n";
}

std::string Layout::fitted_line(const std::string& indent, const std::string& text) const {
    return indent + shorten(text, columns_ - std::min(columns_, width(indent))) + "\n";
}

std::vector<std::string> split_words(const std::string& s) {
    std::vector<std::string> words;
    for (size_t i = 0, j; i < s.size(); i = j + 1) {
        j = std::min(s.find(' ', i), s.size());
        if (j > i) words.push_back(s.substr(i, j - i));
    }
    return words;
}

std::string plural(uint64_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string how_opened(const Origin& origin) {
    if (origin.kind == OriginKind::Unknown) return "origin unknown";
    return std::string("opened by ") + to_string(origin.kind) + "()";
}

std::string own_frame_text(const Frame& own) {
    constexpr size_t kMaxFunction = 48;
    const std::string& path = own.file.empty() ? own.module : own.file;
    const size_t slash = path.rfind('/');
    std::string where = display_safe(slash == std::string::npos ? path : path.substr(slash + 1));
    if (!own.file.empty() && own.line) where += ":" + std::to_string(*own.line);
    std::string text = shorten(display_safe(own.function), kMaxFunction);
    return where.empty() ? text : text + " (" + shorten_path(where, kMaxFunction) + ")";
}

std::string Layout::frame_line(const Frame& f, bool kernel) const {
    const size_t avail = columns_ - kFrameIndent.size();
    std::string fn = display_safe(f.function.empty() ? "[unknown]" : f.function);
    std::string mod = kernel && f.module.empty() ? "kernel" : display_safe(f.module);
    const std::string line = f.line ? ":" + std::to_string(*f.line) : "";
    if (!f.file.empty() && (f.module.empty() || f.module == f.file)) {
        // Interpreted code: "fetch_page (crawler.py:12)".
        mod = display_safe(f.file) + line;
    } else if (!f.file.empty()) {
        // Native code with debug info: "open_leaky (/usr/bin/app, leaky.c:41)".
        const size_t slash = f.file.rfind('/');
        mod += ", " + display_safe(slash == std::string::npos ? f.file : f.file.substr(slash + 1)) +
               line;
    }
    const size_t decor = mod.empty() ? 0 : 3;  // " ()" or " []"
    if (width(fn) + decor + width(mod) > avail) {
        const size_t fn_want = std::min(width(fn), avail - decor);
        mod = shorten_path(mod, std::max(avail - decor - fn_want, avail / 2 - decor));
        fn = shorten(fn, avail - decor - width(mod));
    }
    if (mod.empty()) return kFrameIndent + fn + "\n";
    return kFrameIndent + fn + (kernel ? " [" + mod + "]" : " (" + mod + ")") + "\n";
}

// Go: the line before the first frame of a goroutine that created the opening one.
std::string Layout::creator_line(const Frame& previous, const Frame& f) const {
    if (f.creator == previous.creator || f.creator == 0) return "";
    return fitted_line(kFrameIndent, f.creator == 1
                                         ? "-- in the goroutine that created it (go statement):"
                                         : "-- in the goroutine that created that one:");
}

std::string Layout::stack_block(const std::string& label, const std::vector<Frame>& frames,
                                bool kernel, size_t max_frames) const {
    if (frames.empty()) return kLabelIndent + label + " not captured\n";
    std::string out = kLabelIndent + label + "\n";
    for (size_t i = 0; i < frames.size() && i < max_frames; ++i) {
        if (i) out += creator_line(frames[i - 1], frames[i]);
        out += frame_line(frames[i], kernel);
    }
    if (frames.size() > max_frames)
        out += fitted_line(
            kFrameIndent, "... " + plural(frames.size() - max_frames, "more frame", "more frames"));
    return out;
}

std::string Layout::folded_stack_block(const std::string& label, const Origin& origin) const {
    const std::vector<Frame>& frames = origin.user_stack;
    if (frames.empty()) return stack_block(label, frames, false);
    std::string out = kLabelIndent + label + "\n";
    const Frame* previous = &frames.front();
    for (const StackLine& line : fold_library_frames(frames, origin.own_frame)) {
        out += creator_line(*previous, frames[line.first]);
        previous = &frames[line.first + line.count - 1];
        if (line.count == 1) {
            out += frame_line(frames[line.first], false);
            continue;
        }
        std::string libraries;
        for (const std::string& lib : line.libraries)
            libraries += (libraries.empty() ? " in " : ", ") + display_safe(lib);
        out += fitted_line(kFrameIndent,
                           "… " + plural(line.count, "frame", "frames") + libraries + " …");
    }
    return out;
}

std::string Layout::paint(const std::string& lines, Paint what) const {
    if (!color_ || lines.empty()) return lines;
    // SGR: bold; cyan; yellow; bold red. Reset before each newline, so a pager cuts no colour.
    const char* sgr = "\x1b[1m";
    if (what == Paint::Owner) sgr = "\x1b[36m";
    if (what == Paint::Age) sgr = "\x1b[33m";
    if (what == Paint::Warning) sgr = "\x1b[1;31m";
    std::string out;
    for (size_t i = 0, nl; i < lines.size(); i = nl + 1) {
        nl = std::min(lines.find('\n', i), lines.size());
        out += sgr + lines.substr(i, nl - i) + "\x1b[0m";
        if (nl < lines.size()) out += '\n';
    }
    return out;
}

}  // namespace cwtrace::text_layout
