// DURATION values of the command line: "30s", "1m30s", "1.5h", "250ms", "10" (seconds).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace cwtrace {

using Nanos = std::chrono::nanoseconds;

// Parses a DURATION; nullopt for anything malformed, negative, or longer than ~292 years.
std::optional<Nanos> parse_duration(std::string_view text);

// Short human form: "250ms", "42.1s", "3m12s", "1h05m".
std::string format_duration(Nanos d);

}  // namespace cwtrace
