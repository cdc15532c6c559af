#include "util/histogram.h"

#include <bit>
#include <cmath>
#include <cstdio>

namespace cwtrace {

std::size_t Log2Histogram::bucket_of(double seconds) {
    if (!(seconds >= 1e-6)) return 0;  // also NaN and negatives
    double micros = seconds * 1e6;
    if (micros >= std::ldexp(1.0, kBuckets - 1)) return kBuckets - 1;
    return static_cast<std::size_t>(std::bit_width(static_cast<uint64_t>(micros)) - 1);
}

double Log2Histogram::lower_seconds(std::size_t i) {
    return i == 0 ? 0.0 : std::ldexp(1.0, static_cast<int>(i)) * 1e-6;
}

double Log2Histogram::upper_seconds(std::size_t i) {
    if (i + 1 >= kBuckets) return INFINITY;
    return std::ldexp(1.0, static_cast<int>(i) + 1) * 1e-6;
}

void Log2Histogram::add(double seconds) {
    ++buckets_[bucket_of(seconds)];
    ++count_;
    if (seconds > 0) sum_seconds_ += seconds;
}

void Log2Histogram::merge(const Log2Histogram& other) {
    for (std::size_t i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
    count_ += other.count_;
    sum_seconds_ += other.sum_seconds_;
}

std::size_t Log2Histogram::first_used() const {
    for (std::size_t i = 0; i < kBuckets; ++i)
        if (buckets_[i]) return i;
    return kBuckets;
}

std::size_t Log2Histogram::last_used() const {
    for (std::size_t i = kBuckets; i-- > 0;)
        if (buckets_[i]) return i;
    return 0;
}

std::string format_bucket_bound(double seconds) {
    if (std::isinf(seconds)) return "inf";
    struct Unit {
        double scale;
        const char* name;
    };
    // The largest unit in which the bound is at least 1: whole, or three significant digits.
    static constexpr Unit kUnits[] = {{3600, "h"}, {60, "m"}, {1, "s"}, {1e-3, "ms"}, {1e-6, "us"}};
    char text[32];
    for (const Unit& unit : kUnits) {
        double value = seconds / unit.scale;
        if (value < 1 - 1e-9) continue;
        bool whole = std::fabs(value - std::round(value)) < 1e-9 * value;
        std::snprintf(text, sizeof text, whole ? "%.0f%s" : "%.3g%s", value, unit.name);
        return text;
    }
    return "0us";
}

}  // namespace cwtrace
