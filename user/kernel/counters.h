// The kernel side's loss counters, and the report's Stats made from them: every record or stack
// the kernel could not deliver is counted by cause and summed into lost_events.
#pragma once

#include <cstdint>

#include "cwtrace/abi.h"
#include "model/report.h"

namespace cwtrace {

struct KernelCounters {
    uint64_t counter[CW_CNT_MAX] = {};  // enum cw_counter, summed over CPUs
    uint64_t recursion_misses = 0;      // runs the kernel skipped (another BPF program was active)
};

// The Stats of a report: `records` received from the kernel, `decode_errors` of them unreadable.
Stats stats_of(const KernelCounters& kernel, uint64_t records, uint64_t decode_errors);

}  // namespace cwtrace
