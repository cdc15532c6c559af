// --port, --lport, --rport and --remote as the BPF side's read-only settings (bpf/filter.bpf.h).
#pragma once

#include <cstdint>

#include "kernel/tracer.h"
#include "util/cidr.h"

struct cwtrace_bpf;

namespace cwtrace {

// A range as the kernel tests it: family, then address and mask as four words in network order
// (IPv4: the first word, the others zero).
struct KernelRange {
    uint32_t family = 0;
    uint32_t addr[4] = {}, mask[4] = {};
};
KernelRange kernel_range(const Cidr& range);

// Sets the filters in the opened, not yet loaded, skeleton; values past CW_MAX_FLOW_FILTER are
// dropped (the command line refuses them).
void set_flow_filters(cwtrace_bpf& skel, const TracerConfig& config);

}  // namespace cwtrace
