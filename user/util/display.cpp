#include "util/display.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace cwtrace {
namespace {

// Length of the valid UTF-8 sequence at s[i] (storing its code point in cp); 0 if invalid.
size_t decode_utf8(std::string_view s, size_t i, char32_t& cp) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80           ? 1
                     : (c >> 5) == 0x6  ? 2
                     : (c >> 4) == 0xE  ? 3
                     : (c >> 3) == 0x1E ? 4
                                        : 0;
    if (n == 0 || i + n > s.size()) return 0;
    cp = n == 1 ? c : c & (0x7F >> n);
    for (size_t k = 1; k < n; ++k) {
        const auto cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

// Code points a terminal would act on rather than print (C0/C1 controls, bidi overrides), and
// the two that XML 1.0 forbids even as character references.
bool unsafe(char32_t cp) {
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFFFE || cp == 0xFFFF;
}

}  // namespace

std::string display_safe(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        char32_t cp = 0;
        const size_t n = decode_utf8(s, i, cp);
        if (n != 0 && !unsafe(cp)) {
            out.append(s.substr(i, n));
        } else {
            for (size_t k = 0; k < std::max<size_t>(n, 1); ++k) {
                char esc[8];
                std::snprintf(esc, sizeof esc, "\\x%02x", static_cast<unsigned char>(s[i + k]));
                out += esc;
            }
        }
        i += std::max<size_t>(n, 1);
    }
    return out;
}

}  // namespace cwtrace
