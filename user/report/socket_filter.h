// Which sockets cwtrace reports (--port, --lport, --rport, --remote, --comm, --container,
// --cgroup): every criterion given must match; the values of one criterion are alternatives.
// Ports and remote addresses are also judged in the kernel, where a socket enters CLOSE_WAIT
// (bpf/filter.bpf.h); the same test here covers the sockets found through sock_diag. The
// owner's name, container and cgroup are judged when the report is built.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cwtrace/abi.h"
#include "model/report.h"
#include "util/cidr.h"
#include "util/lru_cache.h"
#include "util/result.h"

namespace cwtrace {

struct SocketFilter {
    std::vector<uint16_t> ports;         // either end's
    std::vector<uint16_t> local_ports;   // --lport
    std::vector<uint16_t> remote_ports;  // --rport
    std::vector<Cidr> remotes;
    std::vector<std::string> comms;       // at most 15 bytes, as the kernel keeps them
    std::vector<std::string> containers;  // lowercase hex prefixes of the 64-digit id
    std::vector<std::string> cgroups;     // absolute, without a trailing '/' ("/" for all)

    bool by_flow() const;
    bool by_owner() const;
    bool by_process_details() const { return !containers.empty() || !cgroups.empty(); }

    bool flow_selected(const cw_flow& flow) const;
    // A process by its comm and, when the filter asks for them, its details (nullptr: unknown,
    // which --container and --cgroup never select).
    bool owner_selected(std::string_view comm, const OwnerDetails* details) const;
};

// The values given on the command line, by option, before they are checked.
struct FilterArgs {
    std::vector<std::string> ports{}, local_ports{}, remote_ports{}, remotes{}, comms{},
        containers{}, cgroups{};  // `{}`: a designated initializer may name only some
};

// How many values each option takes: the kernel side holds as many ports and ranges.
constexpr size_t kMaxFilterValues = CW_MAX_FLOW_FILTER;

// The filter, or an error naming the option and the bad value.
Result<SocketFilter> make_socket_filter(const FilterArgs& args);

// Whether a socket that left CLOSE_WAIT belongs in the report: its flow, and its opener's or its
// closer's process (as --pid judges late closes). The processes' details are read from /proc once
// per process, while it lives.
class CloseSelector {
  public:
    explicit CloseSelector(SocketFilter filter) : filter_(std::move(filter)) {}
    bool selected(const cw_flow& flow, const cw_origin* opener, const cw_origin* closer);

  private:
    bool thread_selected(const cw_origin& thread);

    SocketFilter filter_;
    // By (pid, start time): a pid reused is another process.
    struct KeyHash {
        size_t operator()(const std::pair<uint32_t, uint64_t>& k) const {
            return std::hash<uint64_t>()(k.second * 31 + k.first);
        }
    };
    LruCache<std::pair<uint32_t, uint64_t>, OwnerDetails, KeyHash> details_{1024};
};

}  // namespace cwtrace
