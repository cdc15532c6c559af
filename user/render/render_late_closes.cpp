// Text sections for sockets that left CLOSE_WAIT during the run: the late closes grouped by
// (opening path, closing path), and bcc-style log2 histograms of time in CLOSE_WAIT per opening
// path. The main text report's layout (text_layout.h): its width, untrusted names made
// terminal-safe, frames with their source position.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "render/render.h"
#include "render/text_layout.h"
#include "util/display.h"
#include "util/histogram.h"

namespace cwtrace {
namespace {

using namespace text_layout;

constexpr size_t kMaxFrames = 8;     // frames shown per stack; the JSON report has them all
constexpr size_t kMaxPathNames = 3;  // functions naming a path in a histogram's title
constexpr size_t kBarWidth = 32;

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

// Who opened the group's sockets and who closed them, each with its stacks.
std::string paths_lines(const Layout& L, const LateCloseGroup& g) {
    const Origin& o = g.opening;
    std::string out = L.fitted_line(
        "    ", how_opened(o) + (o.pid || o.comm ? " in " + format_process(o.comm, o.pid) : ""));
    if (o.kind != OriginKind::Unknown)
        out += L.stack_block("opening user stack:", o.user_stack, false, kMaxFrames);
    const Closer& c = g.closing;
    if (!c.pid && !c.comm) return out + "    closed outside any process\n";
    out += L.fitted_line("    ", "closed in " + format_process(c.comm, c.pid) +
                                     (c.tid ? " thread " + std::to_string(*c.tid) : ""));
    if (c.kind != CloseKind::Exit)
        out += L.stack_block("closing user stack:", c.user_stack, false, kMaxFrames);
    return out + L.stack_block("closing kernel stack:", c.kernel_stack, true, kMaxFrames);
}

std::string sample_lines(const Layout& L, const LateCloseGroup& g) {
    std::string out = "    sockets (most recent first):\n";
    for (const LateClose& s : g.sockets)
        out += L.fitted_line("      ", format_endpoint(s.inet6, s.local) + " -> " +
                                           format_endpoint(s.inet6, s.remote) + "  " +
                                           (s.before_start ? ">" : "") +
                                           human_duration(s.close_wait_seconds) + "  " +
                                           format_process(s.comm, s.pid));
    if (g.count > g.sockets.size())
        out += L.fitted_line("      ",
                             "... and " + plural(g.count - g.sockets.size(), "more", "more"));
    return out;
}

std::string group_block(const Layout& L, size_t index, const LateCloseGroup& g) {
    const double mean = g.count ? g.total_seconds / static_cast<double>(g.count) : 0;
    std::string out = "\n" + L.fitted_line("", "#" + std::to_string(index) + " " +
                                                   plural(g.count, "socket,", "sockets,") + " " +
                                                   (g.other ? "other paths (too many to group)"
                                                            : how_closed(g.closing)));
    out += L.fitted_line("    ", "in CLOSE_WAIT " + short_duration(mean) + " on average, at most " +
                                     short_duration(g.max_seconds));
    if (!g.other) out += paths_lines(L, g);
    return out + sample_lines(L, g);
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

std::string histogram_block(const Layout& L, size_t index, const CloseWaitDurations& d) {
    std::string out = "\n";
    const double mean = d.count ? d.total_seconds / static_cast<double>(d.count) : 0;
    out += L.fitted_line("", "#" + std::to_string(index) + " " + path_title(d));
    const std::string who =
        d.opening.pid || d.opening.comm
            ? "; first opened by " + format_process(d.opening.comm, d.opening.pid)
            : "";
    out += L.fitted_line(
        "    ", plural(d.count, "socket", "sockets") + ", mean " + short_duration(mean) + who);
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

std::string render_late_closes_text(const Report& report, const ReportContext& context) {
    if (report.late_closes.empty()) return "";
    const Layout L(context.text_width, context.color);
    uint64_t total = 0;
    for (const auto& g : report.late_closes) total += g.count;
    std::string out =
        "\n" +
        L.fitted_line("", "Late closes: " + plural(total, "socket", "sockets") +
                              " in CLOSE_WAIT at least " + human_setting(report.min_age_seconds) +
                              ", then closed during the run");
    for (size_t i = 0; i < report.late_closes.size(); ++i)
        out += group_block(L, i + 1, report.late_closes[i]);
    return out;
}

std::string render_durations_text(const Report& report, const ReportContext& context) {
    if (report.close_wait_durations.empty()) return "";
    const Layout L(context.text_width, context.color);
    std::string out =
        "\n" +
        L.fitted_line("", "Time in CLOSE_WAIT of the sockets that left it, by opening path:");
    for (size_t i = 0; i < report.close_wait_durations.size(); ++i)
        out += histogram_block(L, i + 1, report.close_wait_durations[i]);
    return out;
}

}  // namespace cwtrace
