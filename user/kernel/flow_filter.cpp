#include "kernel/flow_filter.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "cwtrace.skel.h"

namespace cwtrace {
namespace {

// Copies `values` into a rodata array and returns how many went in.
template <typename T, typename Out>
uint32_t fill(Out* out, const std::vector<T>& values, auto convert) {
    const size_t n = std::min<size_t>(values.size(), CW_MAX_FLOW_FILTER);
    for (size_t i = 0; i < n; ++i) out[i] = convert(values[i]);
    return static_cast<uint32_t>(n);
}

}  // namespace

KernelRange kernel_range(const Cidr& range) {
    KernelRange out;
    out.family = range.inet6 ? AF_INET6 : AF_INET;
    uint8_t mask[16];
    cidr_mask(range, mask);
    if (!range.inet6) std::fill(mask + 4, mask + 16, 0);
    std::memcpy(out.mask, mask, sizeof(mask));
    std::memcpy(out.addr, range.addr, sizeof(range.addr));
    return out;
}

void set_flow_filters(cwtrace_bpf& skel, const TracerConfig& config) {
    auto* rodata = skel.rodata;
    auto port = [](uint16_t p) { return p; };
    rodata->filter_port_count = fill(rodata->filter_ports, config.ports, port);
    rodata->filter_lport_count = fill(rodata->filter_lports, config.local_ports, port);
    rodata->filter_rport_count = fill(rodata->filter_rports, config.remote_ports, port);
    const size_t n = std::min<size_t>(config.remotes.size(), CW_MAX_FLOW_FILTER);
    for (size_t i = 0; i < n; ++i) {
        const KernelRange range = kernel_range(config.remotes[i]);
        rodata->filter_remote_family[i] = range.family;
        std::memcpy(rodata->filter_remote_addr[i], range.addr, sizeof(range.addr));
        std::memcpy(rodata->filter_remote_mask[i], range.mask, sizeof(range.mask));
    }
    rodata->filter_remote_count = static_cast<uint32_t>(n);
}

}  // namespace cwtrace
