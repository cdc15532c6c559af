// The clocks cwtrace reads. CLOCK_MONOTONIC is the clock of the kernel's timestamps
// (bpf_ktime_get_ns), so a record's time and now can be compared.
#pragma once

#include <cstdint>

namespace cwtrace {

uint64_t monotonic_ns();    // CLOCK_MONOTONIC
uint64_t process_cpu_ns();  // CPU time of this process, every thread (CLOCK_PROCESS_CPUTIME_ID)

// Seconds from one monotonic timestamp to another; 0 when `to_ns` is the earlier (records can
// be stamped on another CPU a moment before the time they are compared with).
double seconds_between(uint64_t from_ns, uint64_t to_ns);

}  // namespace cwtrace
