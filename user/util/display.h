// Shared by the renderers: untrusted strings made safe to show, and durations for people.
#pragma once

#include <string>
#include <string_view>

namespace cwtrace {

// `s` with every byte a terminal or an XML parser would not take as printable text written as a
// \xNN escape: C0/C1 controls, bidi overrides, the non-characters U+FFFE/U+FFFF, invalid UTF-8.
// The result is valid UTF-8 and valid XML character data (after the usual &<>"' escaping).
std::string display_safe(std::string_view s);

// 42.1s, 3m12s, 1h05m, 2d03h. Negative or non-finite seconds show as 0.0s.
std::string human_duration(double seconds);

// A setting, such as a min-age: 30s rather than 30.0s.
std::string human_setting(double seconds);

}  // namespace cwtrace
