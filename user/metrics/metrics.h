// Continuous mode: what cwtrace exposes to Prometheus, as a snapshot, and its text exposition
// (format 0.0.4). Pure: the HTTP server and the textfile writer only pass the text on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/report.h"
#include "util/histogram.h"

namespace cwtrace {

// One label set of the CLOSE_WAIT gauges. The labels after `remote` are written only when known
// (an empty value is no label to Prometheus).
struct CloseWaitSeries {
    std::string comm;       // owner's comm now; the opener's when the owner is unknown; "unknown"
    std::string remote;     // remote address without the port, so ephemeral ports add no series
    std::string opened_in;  // the opening path's own frame's function (report/own_frame)
    std::string pod, namespace_name, container;  // Kubernetes names of the owner
    uint64_t sockets = 0;
    double oldest_age_seconds = 0;  // the oldest socket's best known age
};

inline constexpr std::size_t kMaxOpenedInBytes = 256;  // longer function names are cut there

// Everything one exposition shows; immutable once published.
struct MetricsSnapshot {
    std::string version;
    double min_age_seconds = 0;
    std::size_t top_n = 0;                // --metrics-top: label series kept before "other"
    uint64_t close_wait_sockets = 0;      // all sockets of the report, whatever their labels
    std::vector<CloseWaitSeries> series;  // at most top_n + 1 ("other"), largest first
    Log2Histogram left_close_wait;        // durations of sockets that left CLOSE_WAIT
    Stats stats;
};

// The sockets of a report counted by their whole label set: the `top_n` largest series, ties by
// labels, then one comm="other",remote="other" series with the rest (absent when nothing is left
// over), its age the oldest of theirs. However many functions and pods there are, at most
// top_n + 1 series.
std::vector<CloseWaitSeries> top_series(const Report& report, std::size_t top_n);

MetricsSnapshot make_snapshot(const Report& report, const Log2Histogram& left_close_wait,
                              std::size_t top_n, std::string version);

// A label value as the text format wants it, and as safe as in the reports: what display_safe
// escapes (controls, bidi overrides, invalid UTF-8) as \xNN, then backslash and double quote.
std::string escape_label_value(std::string_view value);

// The `le` bounds of the duration histogram, in seconds: every other log2 bucket edge of
// Log2Histogram (4us, 16us, 64us, ... 2^40us ~ 12.7 days), then +Inf.
std::vector<double> metrics_bucket_bounds();

// Prometheus text exposition format 0.0.4 of a snapshot.
std::string render_metrics(const MetricsSnapshot& snapshot);

inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace cwtrace
