#include "util/clock.h"

#include <time.h>

namespace cwtrace {
namespace {

uint64_t read_ns(clockid_t clock) {
    timespec ts;
    clock_gettime(clock, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + ts.tv_nsec;
}

}  // namespace

uint64_t monotonic_ns() { return read_ns(CLOCK_MONOTONIC); }

uint64_t process_cpu_ns() { return read_ns(CLOCK_PROCESS_CPUTIME_ID); }

double seconds_between(uint64_t from_ns, uint64_t to_ns) {
    return to_ns > from_ns ? static_cast<double>(to_ns - from_ns) / 1e9 : 0.0;
}

}  // namespace cwtrace
