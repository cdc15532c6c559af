// `cwtrace render REPORT.json`: a saved JSON report drawn in another format, with no tracing
// (no root, no BPF), so a report taken on a server can be drawn on a laptop.
#pragma once

#include "app/cli.h"

namespace cwtrace {

// Reads options.input ("-": stdin), renders it in options.format to options.output or stdout.
// Returns the exit status: 0; 2 if the input cannot be read or is not a valid report (one line
// on stderr naming the problem); 1 if the output cannot be written.
int render_saved_report(const Options& options);

}  // namespace cwtrace
