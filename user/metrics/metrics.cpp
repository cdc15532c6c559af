#include "metrics/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <utility>

#include "util/display.h"

namespace cwtrace {
namespace {

// Shortest text that reads back as the same double; Prometheus' spelling of infinities.
std::string number(double value) {
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    if (std::isnan(value)) return "NaN";
    char text[32];
    auto [end, ec] = std::to_chars(text, text + sizeof text, value);
    return std::string(text, ec == std::errc() ? end : text);
}

std::string comm_label(const SocketEntry& s) {
    if (s.comm && !s.comm->empty()) return *s.comm;
    if (s.origin->comm && !s.origin->comm->empty()) return *s.origin->comm;
    return "unknown";
}

// "# HELP" and "# TYPE" lines of one metric family.
void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void sample(std::string& out, std::string_view name, std::string_view labels, double value) {
    out.append(name);
    if (!labels.empty()) out.append("{").append(labels).append("}");
    out.append(" ").append(number(value)).append("\n");
}

std::string label(std::string_view name, std::string_view value) {
    return std::string(name) + "=\"" + escape_label_value(value) + "\"";
}

void histogram(std::string& out, std::string_view name, const Log2Histogram& h) {
    const std::string bucket = std::string(name) + "_bucket";
    uint64_t cumulative = 0;
    std::size_t next = 0;  // first Log2Histogram bucket not yet counted
    for (double bound : metrics_bucket_bounds()) {
        // Log2Histogram's buckets are [lower, upper): those with upper <= bound are below it.
        while (next < Log2Histogram::kBuckets && Log2Histogram::upper_seconds(next) <= bound)
            cumulative += h.buckets()[next++];
        sample(out, bucket, label("le", number(bound)), static_cast<double>(cumulative));
    }
    sample(out, std::string(name) + "_sum", "", h.sum_seconds());
    sample(out, std::string(name) + "_count", "", static_cast<double>(h.count()));
}

}  // namespace

// As the reports show it (util/display): controls, bidi overrides and invalid UTF-8 as \xNN,
// so that a scrape is valid UTF-8 (Prometheus rejects a whole scrape otherwise), a terminal
// showing it acts on nothing, and a label reads as the report's string; then the format's own
// escapes (a newline cannot be left: display_safe wrote it as \x0a).
std::string escape_label_value(std::string_view value) {
    const std::string safe = display_safe(value);
    std::string out;
    out.reserve(safe.size());
    for (const char c : safe) {
        if (c == '\\' || c == '"') out.push_back('\\');
        out.push_back(c);
    }
    return out;
}

std::vector<double> metrics_bucket_bounds() {
    std::vector<double> bounds;
    // Odd buckets' upper edges: 2^2 us, 2^4 us, ... 2^40 us. Fewer series, same resolution
    // where it matters (a healthy close is microseconds, a leak is minutes).
    for (std::size_t i = 1; i + 1 < Log2Histogram::kBuckets; i += 2)
        bounds.push_back(Log2Histogram::upper_seconds(i));
    bounds.push_back(INFINITY);
    return bounds;
}

std::vector<CloseWaitSeries> top_series(const Report& report, std::size_t top_n) {
    std::map<std::pair<std::string, std::string>, uint64_t> counts;
    for (const SocketEntry& s : report.sockets) ++counts[{comm_label(s), s.remote.addr()}];

    std::vector<CloseWaitSeries> all;
    all.reserve(counts.size());
    for (auto& [key, n] : counts) all.push_back({key.first, key.second, n});
    // Largest first; the map's order breaks ties, so the choice is stable between scrapes.
    std::stable_sort(all.begin(), all.end(),
                     [](const auto& a, const auto& b) { return a.sockets > b.sockets; });
    if (all.size() <= top_n) return all;

    uint64_t rest = 0;
    for (std::size_t i = top_n; i < all.size(); ++i) rest += all[i].sockets;
    all.resize(top_n);
    // A real comm "other" talking to a host named "other" would collide: add to it then.
    auto same = std::find_if(all.begin(), all.end(), [](const auto& s) {
        return s.comm == "other" && s.remote == "other";
    });
    if (same != all.end())
        same->sockets += rest;
    else
        all.push_back({"other", "other", rest});
    return all;
}

MetricsSnapshot make_snapshot(const Report& report, const Log2Histogram& left_close_wait,
                              std::size_t top_n, std::string version) {
    MetricsSnapshot m;
    m.version = std::move(version);
    m.min_age_seconds = report.min_age_seconds;
    m.top_n = top_n;
    m.close_wait_sockets = report.sockets.size();
    m.series = top_series(report, top_n);
    m.left_close_wait = left_close_wait;
    m.stats = report.stats;
    return m;
}

std::string render_metrics(const MetricsSnapshot& m) {
    std::string out;
    family(out, "cwtrace_close_wait_sockets", "gauge",
           "TCP sockets in CLOSE_WAIT for at least min-age, by owner comm and remote address; "
           "beyond the " +
               std::to_string(m.top_n) +
               " largest series the rest are summed under comm=\"other\",remote=\"other\".");
    for (const CloseWaitSeries& s : m.series)
        sample(out, "cwtrace_close_wait_sockets",
               label("comm", s.comm) + "," + label("remote", s.remote),
               static_cast<double>(s.sockets));

    family(out, "cwtrace_close_wait_sockets_all", "gauge",
           "TCP sockets in CLOSE_WAIT for at least min-age, all owners.");
    sample(out, "cwtrace_close_wait_sockets_all", "", static_cast<double>(m.close_wait_sockets));

    family(out, "cwtrace_min_age_seconds", "gauge",
           "How long a socket must be in CLOSE_WAIT to be counted (--min-age).");
    sample(out, "cwtrace_min_age_seconds", "", m.min_age_seconds);

    family(out, "cwtrace_close_wait_duration_seconds", "histogram",
           "Time spent in CLOSE_WAIT by the sockets that left it while cwtrace ran.");
    histogram(out, "cwtrace_close_wait_duration_seconds", m.left_close_wait);

    family(out, "cwtrace_events_total", "counter", "Kernel events received.");
    sample(out, "cwtrace_events_total", "", static_cast<double>(m.stats.events));

    family(out, "cwtrace_lost_events_total", "counter",
           "Events lost or incomplete, by cause; the report may miss or misattribute sockets.");
    const std::pair<const char*, uint64_t> causes[] = {
        {"ringbuf_full", m.stats.ringbuf_full},
        {"origin_map_full", m.stats.origin_map_full},
        {"stacks_lost", m.stats.stacks_lost},
        {"accept_unresolved", m.stats.accept_unresolved},
        {"recursion_misses", m.stats.recursion_misses},
        {"decode_errors", m.stats.decode_errors},
    };
    for (const auto& [cause, n] : causes)
        sample(out, "cwtrace_lost_events_total", label("cause", cause), static_cast<double>(n));

    family(out, "cwtrace_files_refused_total", "counter",
           "Files or memory another process named, not read, by cause (slow: no answer in time); "
           "each costs names in stacks, not events.");
    for (const auto& [cause, n] : m.stats.files_refused)
        sample(out, "cwtrace_files_refused_total", label("cause", cause), static_cast<double>(n));

    family(out, "cwtrace_stack_map_recycled_total", "counter",
           "The kernel's stack map kept from filling: stacks deleted with nothing naming them "
           "(deleted), and stacks named after their deletion, lost (stale).");
    sample(out, "cwtrace_stack_map_recycled_total", label("cause", "deleted"),
           static_cast<double>(m.stats.stacks_recycled));
    sample(out, "cwtrace_stack_map_recycled_total", label("cause", "stale"),
           static_cast<double>(m.stats.stale_stacks));

    family(out, "cwtrace_build_info", "gauge", "cwtrace's version; always 1.");
    sample(out, "cwtrace_build_info", label("version", m.version), 1);
    return out;
}

}  // namespace cwtrace
