// Durations: the DURATION values of the command line ("30s", "1m30s", "1.5h", "250ms", "10"
// seconds), and the one way they are written for people, in reports and on stderr alike.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace cwtrace {

using Nanos = std::chrono::nanoseconds;

// Parses a DURATION; nullopt for anything malformed, negative, or longer than ~292 years.
std::optional<Nanos> parse_duration(std::string_view text);

// An age: 42.1s, 3m12s, 1h05m, 2d03h. Negative or non-finite seconds show as 0.0s.
std::string human_duration(double seconds);

// A setting, such as a min-age: 30s rather than 30.0s, 1.5s, 250ms below a second.
std::string human_setting(double seconds);
std::string human_setting(Nanos d);

}  // namespace cwtrace
