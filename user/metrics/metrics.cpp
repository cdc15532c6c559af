#include "metrics/metrics.h"

#include <algorithm>
#include <array>
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

std::string label(std::string_view name, std::string_view value);

std::string comm_label(const SocketEntry& s) {
    if (s.comm && !s.comm->empty()) return *s.comm;
    if (s.origin->comm && !s.origin->comm->empty()) return *s.origin->comm;
    return "unknown";
}

// comm, remote, opened_in, pod, namespace, container: a series' identity, in label order.
using SeriesLabels = std::array<std::string, 6>;

SeriesLabels labels_of(const SocketEntry& s) {
    const Frame* own = s.origin->own();
    // A cut may split a UTF-8 character: escape_label_value writes the rest as \xNN.
    std::string opened_in = own ? own->function.substr(0, kMaxOpenedInBytes) : "";
    const auto owner = [&](std::optional<std::string> OwnerDetails::*name) {
        return s.owner && (*s.owner).*name ? *((*s.owner).*name) : std::string();
    };
    return {comm_label(s),
            s.remote.addr(),
            std::move(opened_in),
            owner(&OwnerDetails::pod),
            owner(&OwnerDetails::namespace_name),
            owner(&OwnerDetails::container)};
}

SeriesLabels labels_of(const CloseWaitSeries& s) {
    return {s.comm, s.remote, s.opened_in, s.pod, s.namespace_name, s.container};
}

// The series' labels as the exposition writes them, the unknown ones left out.
std::string series_labels(const CloseWaitSeries& s) {
    static constexpr const char* kNames[] = {"comm", "remote",    "opened_in",
                                             "pod",  "namespace", "container"};
    const SeriesLabels values = labels_of(s);
    std::string out;
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i >= 2 && values[i].empty()) continue;
        out += (out.empty() ? "" : ",") + label(kNames[i], values[i]);
    }
    return out;
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
    std::map<SeriesLabels, CloseWaitSeries> by_labels;
    for (const SocketEntry& s : report.sockets) {
        SeriesLabels labels = labels_of(s);
        auto [it, added] = by_labels.try_emplace(labels);
        CloseWaitSeries& series = it->second;
        if (added)
            series = {std::move(labels[0]), std::move(labels[1]), std::move(labels[2]),
                      std::move(labels[3]), std::move(labels[4]), std::move(labels[5])};
        ++series.sockets;
        series.oldest_age_seconds = std::max(series.oldest_age_seconds, best_age_seconds(s));
    }

    std::vector<CloseWaitSeries> all;
    all.reserve(by_labels.size());
    for (auto& entry : by_labels) all.push_back(std::move(entry.second));
    // Largest first; the map's order breaks ties, so the choice is stable between scrapes.
    std::stable_sort(all.begin(), all.end(),
                     [](const auto& a, const auto& b) { return a.sockets > b.sockets; });
    if (all.size() <= top_n) return all;

    CloseWaitSeries rest{"other", "other", "", "", "", "", 0, 0};
    for (std::size_t i = top_n; i < all.size(); ++i) {
        rest.sockets += all[i].sockets;
        rest.oldest_age_seconds = std::max(rest.oldest_age_seconds, all[i].oldest_age_seconds);
    }
    all.resize(top_n);
    // A real comm "other" talking to a host named "other" would collide: add to it then.
    auto same = std::find_if(all.begin(), all.end(),
                             [&](const auto& s) { return labels_of(s) == labels_of(rest); });
    if (same != all.end()) {
        same->sockets += rest.sockets;
        same->oldest_age_seconds = std::max(same->oldest_age_seconds, rest.oldest_age_seconds);
    } else {
        all.push_back(std::move(rest));
    }
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
           "TCP sockets in CLOSE_WAIT for at least min-age, by owner comm and remote address, the "
           "function of the user's code that opened them (opened_in) and the owner's pod, "
           "namespace and container where known; beyond the " +
               std::to_string(m.top_n) +
               " largest series the rest are summed under comm=\"other\",remote=\"other\".");
    for (const CloseWaitSeries& s : m.series)
        sample(out, "cwtrace_close_wait_sockets", series_labels(s), static_cast<double>(s.sockets));

    family(out, "cwtrace_close_wait_oldest_age_seconds", "gauge",
           "Age of the oldest socket of each cwtrace_close_wait_sockets series (seconds in "
           "CLOSE_WAIT; for sockets found at start, since their last segment); the \"other\" "
           "series holds the oldest of the rest.");
    for (const CloseWaitSeries& s : m.series)
        sample(out, "cwtrace_close_wait_oldest_age_seconds", series_labels(s),
               s.oldest_age_seconds);

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
    for (const auto& [cause, count] : kLossCauses)
        sample(out, "cwtrace_lost_events_total", label("cause", cause),
               static_cast<double>(m.stats.*count));

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
