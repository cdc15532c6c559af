// cwtrace's log lines on stderr. Their arguments come from other processes (a comm, a mapped
// path, a cmdline, an environment value): every message is written as the reports write such
// strings (util/display), so an ESC or a BEL never reaches the terminal raw.
#pragma once

#include <spdlog/formatter.h>

#include <memory>

#include "util/progress.h"

namespace cwtrace {

// "cwtrace: MESSAGE", the message escaped.
std::unique_ptr<spdlog::formatter> log_formatter();

// How much goes to stderr: Quiet (--quiet) keeps errors and warnings (a loss, a capability
// missing: what the report lacks), Normal adds the progress of the run (attached, sockets found
// at start, the metrics address), Verbose (-v) adds libbpf's and cwtrace's debug lines.
enum class LogLevel { Quiet, Normal, Verbose };

// The default logger: stderr, log_formatter(), at `level`. A log line first erases `progress`
// (when given and drawn), which draws itself again at its next step.
void setup_logging(LogLevel level, ProgressLine* progress = nullptr);

}  // namespace cwtrace
