// How a report is drawn for where it goes: a terminal gets its own width and colour, a file or a
// pipe 80 columns and no colour (issue 23), whatever --width and --color say otherwise.
#pragma once

#include <cstdio>

#include "app/cli.h"
#include "model/report.h"

namespace cwtrace {

// Sets the context's text width, colour, full stacks and own mark from `options`, for a report
// written to `stream` (nullptr: a file, which never gets colour).
void set_presentation(ReportContext& context, const Options& options, std::FILE* stream);

}  // namespace cwtrace
