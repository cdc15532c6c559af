// Shared by the renderers: untrusted strings made safe to show, and (util/duration) durations
// for people.
#pragma once

#include <string>
#include <string_view>

#include "util/duration.h"

namespace cwtrace {

// `s` with every byte a terminal or an XML parser would not take as printable text written as a
// \xNN escape: C0/C1 controls, bidi overrides, the non-characters U+FFFE/U+FFFF, invalid UTF-8.
// The result is valid UTF-8 and valid XML character data (after the usual &<>"' escaping).
std::string display_safe(std::string_view s);

}  // namespace cwtrace
