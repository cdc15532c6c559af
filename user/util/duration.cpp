#include "util/duration.h"

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

std::string format_duration(Nanos d) {
    const int64_t ns = d.count();
    char buf[48];
    if (ns < 1'000'000'000) {
        std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(ns / 1'000'000));
    } else if (ns < 60'000'000'000) {
        std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ns / 100'000'000) / 10.0);
    } else {
        const int64_t s = ns / 1'000'000'000;
        if (s < 3600)
            std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                          static_cast<long long>(s % 60));
        else
            std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                          static_cast<long long>(s % 3600 / 60));
    }
    return buf;
}

}  // namespace cwtrace
