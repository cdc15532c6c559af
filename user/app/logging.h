// cwtrace's log lines on stderr. Their arguments come from other processes (a comm, a mapped
// path, a cmdline, an environment value): every message is written as the reports write such
// strings (util/display), so an ESC or a BEL never reaches the terminal raw.
#pragma once

#include <spdlog/formatter.h>

#include <memory>

namespace cwtrace {

// "cwtrace: MESSAGE", the message escaped.
std::unique_ptr<spdlog::formatter> log_formatter();

// The default logger: stderr, log_formatter(), debug level when `verbose`.
void setup_logging(bool verbose);

}  // namespace cwtrace
