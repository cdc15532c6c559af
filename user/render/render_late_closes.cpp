// Text sections for sockets that left CLOSE_WAIT during the run: the late closes grouped by
// (opening path, closing path), and bcc-style log2 histograms of time in CLOSE_WAIT per opening
// path. Same rules as the main text report: 80 columns, untrusted names made terminal-safe.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "render/render.h"
#include "util/display.h"
#include "util/histogram.h"
#include "util/net_format.h"

namespace cwtrace {
namespace {

constexpr size_t kWidth = 80;
constexpr size_t kMaxFrames = 8;     // frames shown per stack; the JSON report has them all
constexpr size_t kMaxPathNames = 3;  // functions naming a path in a histogram's title
constexpr size_t kBarWidth = 32;

size_t width(std::string_view s) {
    return std::count_if(s.begin(), s.end(),
                         [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

// Clean text cut to at most `max` columns, the middle replaced by "…".
std::string fit(const std::string& s, size_t max) {
    if (width(s) <= max || max == 0) return width(s) <= max ? s : "";
    std::vector<size_t> starts;
    for (size_t i = 0; i < s.size(); ++i)
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) starts.push_back(i);
    const size_t head = max / 2, tail = max - 1 - head;
    return s.substr(0, starts[head]) + "…" + (tail ? s.substr(starts[starts.size() - tail]) : "");
}

std::string line(const std::string& indent, const std::string& text) {
    return indent + fit(text, kWidth - width(indent)) + "\n";
}

std::string plural(uint64_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string process(const std::optional<std::string>& comm, const std::optional<uint32_t>& pid) {
    if (!comm && !pid) return "unknown";
    return (comm ? display_safe(*comm) : "?") + "[" + (pid ? std::to_string(*pid) : "?") + "]";
}

std::string frame_text(const Frame& f, bool kernel) {
    const std::string fn = display_safe(f.function.empty() ? "[unknown]" : f.function);
    if (kernel) return fn + " [kernel]";
    return f.module.empty() ? fn : fn + " (" + display_safe(f.module) + ")";
}

std::string stack(const char* label, const std::vector<Frame>& frames, bool kernel) {
    if (frames.empty()) return std::string("    ") + label + " not captured\n";
    std::string out = std::string("    ") + label + "\n";
    for (size_t i = 0; i < frames.size() && i < kMaxFrames; ++i)
        out += line("      ", frame_text(frames[i], kernel));
    if (frames.size() > kMaxFrames)
        out += line("      ",
                    "... " + plural(frames.size() - kMaxFrames, "more frame", "more frames"));
    return out;
}

std::string how_opened(const Origin& o) {
    if (o.kind == OriginKind::Unknown) return "origin unknown";
    return std::string("opened by ") + to_string(o.kind) + "()";
}

// Durations under a second in the unit that shows them: "35us", "1.2ms"; longer ones as usual.
std::string short_duration(double seconds) {
    if (!(seconds >= 1)) {
        char text[32];
        if (seconds < 1e-3)
            std::snprintf(text, sizeof text, "%.0fus", std::max(0.0, seconds * 1e6));
        else
            std::snprintf(text, sizeof text, "%.1fms", seconds * 1e3);
        return text;
    }
    return human_duration(seconds);
}

std::string how_closed(const Closer& c) {
    const bool in_process = c.pid || c.comm;
    switch (c.kind) {
        case CloseKind::Close:
            return "closed by close()/shutdown()";
        case CloseKind::Reset:
            return in_process ? "aborted by the process (reset sent)" : "reset by the peer";
        case CloseKind::Exit:
            return "closed by its process exiting";
        case CloseKind::Kernel:
            return "torn down by the kernel (timeout, no process)";
        case CloseKind::Unknown:
            break;
    }
    return "closed, how unknown";
}

std::string group_block(size_t index, const LateCloseGroup& g) {
    std::string out = "\n";
    const double mean = g.count ? g.total_seconds / static_cast<double>(g.count) : 0;
    out +=
        line("", "#" + std::to_string(index) + " " + plural(g.count, "socket,", "sockets,") + " " +
                     (g.other ? "other paths (too many to group)" : how_closed(g.closing)));
    out += line("    ", "in CLOSE_WAIT " + short_duration(mean) + " on average, at most " +
                            short_duration(g.max_seconds));
    if (!g.other) {
        const Origin& o = g.opening;
        out +=
            line("    ", how_opened(o) + (o.pid || o.comm ? " in " + process(o.comm, o.pid) : ""));
        if (o.kind != OriginKind::Unknown) out += stack("opening user stack:", o.user_stack, false);
        const Closer& c = g.closing;
        if (c.pid || c.comm) {
            out += line("    ", "closed in " + process(c.comm, c.pid) +
                                    (c.tid ? " thread " + std::to_string(*c.tid) : ""));
            if (c.kind != CloseKind::Exit) out += stack("closing user stack:", c.user_stack, false);
            out += stack("closing kernel stack:", c.kernel_stack, true);
        } else {
            out += "    closed outside any process\n";
        }
    }
    out += "    sockets (most recent first):\n";
    for (const LateClose& s : g.sockets)
        out += line("      ",
                    format_endpoint(s.inet6, s.local) + " -> " +
                        format_endpoint(s.inet6, s.remote) + "  " + (s.before_start ? ">" : "") +
                        human_duration(s.close_wait_seconds) + "  " + process(s.comm, s.pid));
    if (g.count > g.sockets.size())
        out += line("      ", "... and " + plural(g.count - g.sockets.size(), "more", "more"));
    return out;
}

// The path in a histogram's title: its kind and innermost user functions.
std::string path_title(const CloseWaitDurations& d) {
    if (d.other) return "other opening paths (too many to list)";
    const Origin& o = d.opening;
    std::string title = how_opened(o);
    // The syscall wrapper (connect, accept4, ...) repeats the kind: start at its caller.
    size_t first = 0;
    if (o.user_stack.size() > 1 &&
        o.user_stack[0].function.find(to_string(o.kind)) != std::string::npos)
        first = 1;
    std::string via;
    for (size_t i = first; i < o.user_stack.size() && i < first + kMaxPathNames; ++i)
        via += (i > first ? " <- " : "") + display_safe(o.user_stack[i].function);
    if (!via.empty()) title += " at " + via;
    return title;
}

std::string histogram_block(size_t index, const CloseWaitDurations& d) {
    std::string out = "\n";
    const double mean = d.count ? d.total_seconds / static_cast<double>(d.count) : 0;
    out += line("", "#" + std::to_string(index) + " " + path_title(d));
    const std::string who = d.opening.pid || d.opening.comm
                                ? "; first opened by " + process(d.opening.comm, d.opening.pid)
                                : "";
    out +=
        line("    ", plural(d.count, "socket", "sockets") + ", mean " + short_duration(mean) + who);
    uint64_t max = 0;
    for (const auto& b : d.buckets) max = std::max(max, b.count);
    char text[128];
    std::snprintf(text, sizeof text, "    %10s    %-10s : %-8s %s\n", "from", "to", "count",
                  "distribution");
    out += text;
    for (const auto& b : d.buckets) {
        const size_t stars = max ? static_cast<size_t>(b.count * kBarWidth / max) : 0;
        std::snprintf(text, sizeof text, "    %10s -> %-10s : %-8llu |%s%s|\n",
                      format_bucket_bound(b.lower_seconds).c_str(),
                      format_bucket_bound(b.upper_seconds).c_str(),
                      static_cast<unsigned long long>(b.count), std::string(stars, '*').c_str(),
                      std::string(kBarWidth - stars, ' ').c_str());
        out += text;
    }
    return out;
}

}  // namespace

std::string render_late_closes_text(const Report& report) {
    if (report.late_closes.empty()) return "";
    uint64_t total = 0;
    for (const auto& g : report.late_closes) total += g.count;
    std::string out =
        "\n" +
        line("", "Late closes: " + plural(total, "socket", "sockets") + " in CLOSE_WAIT at least " +
                     human_setting(report.min_age_seconds) + ", then closed during the run");
    for (size_t i = 0; i < report.late_closes.size(); ++i)
        out += group_block(i + 1, report.late_closes[i]);
    return out;
}

std::string render_durations_text(const Report& report) {
    if (report.close_wait_durations.empty()) return "";
    std::string out =
        "\n" + line("", "Time in CLOSE_WAIT of the sockets that left it, by opening path:");
    for (size_t i = 0; i < report.close_wait_durations.size(); ++i)
        out += histogram_block(i + 1, report.close_wait_durations[i]);
    return out;
}

}  // namespace cwtrace
