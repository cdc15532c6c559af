// Which capability each of cwtrace's features needs, and what a run without one loses. Decided
// from the effective set at start (util/capabilities), never from the uid: root may run with a
// few capabilities, another user with exactly the ones README "Permissions" lists.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "util/capabilities.h"
#include "util/result.h"

namespace cwtrace {

// Tracing itself: CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN stands for either). Without them
// nothing can be loaded: exit 1, one line naming what is missing.
Result<void> check_tracing_capabilities(CapabilitySet effective);

// What the losses depend on besides the set, found at start.
struct PrivilegeScene {
    bool root_uid = false;  // euid 0: owns root's /proc/PID/fd, mode 0500, without a capability
    size_t other_network_namespaces = 0;      // those /proc shows now
    bool kernel_addresses_visible = true;     // /proc/kallsyms, as this process reads it
    std::optional<uint16_t> metrics_port;     // --metrics-addr's
    uint32_t unprivileged_port_start = 1024;  // net.ipv4.ip_unprivileged_port_start
    // Whether cwtrace runs in the host's pid and user namespaces (a container without hostPID,
    // a rootless one): true when that cannot be told.
    bool host_pid_namespace = true;
    bool host_user_namespace = true;
};

struct CapabilityLoss {
    std::string capability;  // "CAP_SYS_ADMIN"
    std::string cost;        // what the reports lack without it
};

// Every capability beyond tracing's that `effective` lacks and would serve in `scene`, with its
// cost, in the order of README "Permissions". A port cwtrace cannot bind is not a loss:
// check_metrics_port() refuses it.
std::vector<CapabilityLoss> capability_losses(CapabilitySet effective, const PrivilegeScene& scene);

// What running outside the host's namespaces costs the reports, one line each (said once, at
// normal level, beside the capability losses); nothing on the host.
std::vector<std::string> namespace_losses(const PrivilegeScene& scene);

// --metrics-addr on a port only CAP_NET_BIND_SERVICE binds: exit 1 before tracing starts.
Result<void> check_metrics_port(CapabilitySet effective, const PrivilegeScene& scene);

// This run's scene: the uid, its pid and user namespaces, the network namespaces of the processes
// /proc shows, kallsyms. The namespaces (a pass over every process in /proc) and kallsyms are
// looked at only when `effective` lacks the capability whose cost they measure: with it, nothing
// reads them.
PrivilegeScene observe_scene(std::optional<uint16_t> metrics_port, CapabilitySet effective);

}  // namespace cwtrace
