#include "util/duration.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>

namespace cwtrace {
namespace {

// Nanoseconds per unit, longest unit name first so "ms" is not read as "m".
struct Unit {
    std::string_view name;
    double nanos;
};
constexpr Unit kUnits[] = {
    {"ms", 1e6},
    {"h", 3600e9},
    {"m", 60e9},
    {"s", 1e9},
};

// Reads "123" or "1.5" at the front of `text`; advances it. nullopt when no digits.
std::optional<double> take_number(std::string_view& text) {
    size_t i = 0, digits = 0;
    bool dot = false;
    for (; i < text.size(); ++i) {
        char c = text[i];
        if (c >= '0' && c <= '9') {
            ++digits;
        } else if (c == '.' && !dot) {
            dot = true;
        } else {
            break;
        }
    }
    if (digits == 0 || digits > 18) return std::nullopt;
    double value = std::stod(std::string(text.substr(0, i)));
    text.remove_prefix(i);
    return value;
}

std::optional<double> take_unit(std::string_view& text) {
    for (const Unit& unit : kUnits) {
        if (text.starts_with(unit.name)) {
            text.remove_prefix(unit.name.size());
            return unit.nanos;
        }
    }
    return std::nullopt;
}

}  // namespace

std::optional<Nanos> parse_duration(std::string_view text) {
    if (text.empty()) return std::nullopt;
    double total = 0;
    bool first = true;
    while (!text.empty()) {
        auto number = take_number(text);
        if (!number) return std::nullopt;
        auto unit = take_unit(text);
        if (!unit) {
            // A bare number means seconds, and only on its own.
            if (!first || !text.empty()) return std::nullopt;
            unit = 1e9;
        }
        total += *number * *unit;
        first = false;
    }
    if (!std::isfinite(total) || total >= static_cast<double>(std::numeric_limits<int64_t>::max()))
        return std::nullopt;
    return Nanos(static_cast<int64_t>(std::llround(total)));
}

std::string human_duration(double seconds) {
    const double s = std::isfinite(seconds) ? std::clamp(seconds, 0.0, 1e12) : 0;
    const long long tenths = std::llround(s * 10), secs = std::llround(s);
    char buf[48];
    if (tenths < 600)
        std::snprintf(buf, sizeof buf, "%lld.%llds", tenths / 10, tenths % 10);
    else if (secs < 3600)
        std::snprintf(buf, sizeof buf, "%lldm%02llds", secs / 60, secs % 60);
    else if (secs < 86400)
        std::snprintf(buf, sizeof buf, "%lldh%02lldm", secs / 3600, secs % 3600 / 60);
    else
        std::snprintf(buf, sizeof buf, "%lldd%02lldh", secs / 86400, secs % 86400 / 3600);
    return buf;
}

std::string human_setting(double seconds) {
    // Below a second a setting is said in milliseconds: 250ms, not 0.2s.
    if (std::isfinite(seconds) && seconds > 0 && seconds < 1) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%lldms", std::llround(seconds * 1000));
        return buf;
    }
    std::string d = human_duration(seconds);
    if (d.size() > 3 && d.compare(d.size() - 3, 3, ".0s") == 0) d.replace(d.size() - 3, 3, "s");
    return d;
}

std::string human_setting(Nanos d) { return human_setting(static_cast<double>(d.count()) / 1e9); }

}  // namespace cwtrace
