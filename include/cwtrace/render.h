// Renderers: pure functions from a Report to bytes. One per format.
#pragma once

#include <string>

#include "cwtrace/report.h"

namespace cwtrace {

// Report formats. `render` dispatches to the renderer of each.
enum class Format { Text, Json };

std::string render(const Report& report, Format format);

// Text for a person at a terminal: header, then sockets grouped by the opening stack.
std::string render_text(const Report& report);

// One JSON document, schema "cwtrace.report/1", on a single line ending in '\n'
// (so that --interval output is JSON Lines).
std::string render_json(const Report& report);

}  // namespace cwtrace
