// Renderers: pure functions from a Report to bytes. One per format.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "model/report.h"
#include "render/flame.h"

namespace cwtrace {

// Report formats. `render` dispatches to the renderer of each.
enum class Format { Text, Json, Folded, Svg, Speedscope, Pprof };

// "text", "json", "folded", "svg", "speedscope", "pprof".
const char* to_string(Format format);

// Whether a format can be written as a stream of reports (one after another on stdout).
bool is_streaming(Format format);

std::string render(const Report& report, Format format, const ReportContext& context = {});

// Takes a report's bytes in pieces; returns false to stop (a write failed).
using ReportSink = std::function<bool(std::string_view)>;

// The bytes of render(), handed to `sink` in pieces: JSON ~64 KiB at a time, so that a million
// sockets never sit in memory as one text. Returns false when the sink did.
bool render(const Report& report, Format format, const ReportContext& context,
            const ReportSink& sink);

// Text for a person at a terminal: header, then sockets grouped by the opening stack. The
// context's text_width, color and full_stacks say how it is laid out.
std::string render_text(const Report& report, const ReportContext& context = {});

// Text sections of the report for sockets that left CLOSE_WAIT: "Late closes" and the histograms
// of time in CLOSE_WAIT. Empty when the report has none. Every line fits the context's width.
std::string render_late_closes_text(const Report& report, const ReportContext& context = {});
std::string render_durations_text(const Report& report, const ReportContext& context = {});

// One JSON document, schema "cwtrace.report/1", on a single line ending in '\n'
// (so that --interval output is JSON Lines). A known host is added as "host".
std::string render_json(const Report& report, const ReportContext& context = {});
bool render_json(const Report& report, const ReportContext& context, const ReportSink& sink);
// Appends a double as nlohmann::json::dump() writes it (a million sockets have two each).
void append_json_double(std::string& out, double d);

// Brendan Gregg's folded stacks, `comm;outermost;...;innermost COUNT`, one line per path,
// sorted; kernel frames end in "_[k]"; with `mark_own` the user's own frame ends in "[own]".
// Empty for an empty report.
std::string render_folded(const Report& report, FlameWeight weight = FlameWeight::Sockets,
                          bool mark_own = false);

// A standalone interactive SVG flame graph (inline script; no network).
std::string render_svg(const Report& report, const ReportContext& context = {});

// speedscope's file format (https://www.speedscope.app/file-format-schema.json), one
// "sampled" profile weighted by sockets.
std::string render_speedscope(const Report& report, const ReportContext& context = {});

// A gzipped pprof profile.proto, sample type sockets/count (binary).
std::string render_pprof(const Report& report, const ReportContext& context = {});

}  // namespace cwtrace
