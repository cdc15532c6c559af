// The capability table of README "Permissions" (and cwtrace(8)) as code. Each entry was found by
// running cwtrace as nobody (setpriv) with the capability left out, not read off a manual.
#include "app/capabilities.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <utility>

#include "sockets/netns.h"

namespace cwtrace {
namespace {

bool has_any(CapabilitySet set, std::initializer_list<int> caps) {
    return std::any_of(caps.begin(), caps.end(), [&](int cap) { return has_capability(set, cap); });
}

std::string network_namespaces_cost(size_t others) {
    const std::string lost =
        " not searched: their sockets already in CLOSE_WAIT at start are not shown (those "
        "traced later are, without their queues)";
    if (others == 0) return "containers' network namespaces" + lost;
    return std::to_string(others) + (others == 1 ? " network namespace" : " network namespaces") +
           lost;
}

// Whether kallsyms gives this process addresses: the kernel shows zeros instead without
// CAP_SYSLOG (unless kptr_restrict=0 and perf_event_paranoid<=1). Per-CPU symbols are at 0 in
// any case, so the first text symbol tells.
bool kernel_addresses_visible() {
    std::ifstream in("/proc/kallsyms");
    std::string address, type;
    for (int line = 0; line < 100'000 && in >> address >> type; ++line) {
        if (type == "T" || type == "t") return address.find_first_not_of('0') != std::string::npos;
        in.ignore(4096, '\n');
    }
    return true;  // unreadable: the symbolizer says so where it reads it
}

// The inode of one of this process's namespaces ("pid", "user"), or nullopt.
std::optional<ino_t> own_namespace(const char* kind) {
    struct stat st;
    const std::string path = std::string("/proc/self/ns/") + kind;
    if (stat(path.c_str(), &st) != 0) return std::nullopt;
    return st.st_ino;
}

// The kernel's initial namespaces have fixed inodes (include/linux/proc_ns.h, since 3.8): the
// host's, whatever the /proc mount shows (a pod's own /proc shows its own pid 1).
constexpr ino_t kInitialUserNamespace = 0xEFFFFFFDU;
constexpr ino_t kInitialPidNamespace = 0xEFFFFFFCU;

}  // namespace

Result<void> check_tracing_capabilities(CapabilitySet effective) {
    // bpf_capable() and perfmon_capable() each take CAP_SYS_ADMIN instead.
    if (has_capability(effective, kCapSysAdmin)) return Ok{};
    std::string missing;
    for (auto [cap, name] : {std::pair{kCapBpf, "CAP_BPF"}, std::pair{kCapPerfmon, "CAP_PERFMON"}})
        if (!has_capability(effective, cap))
            missing += (missing.empty() ? "" : " and ") + std::string(name);
    if (missing.empty()) return Ok{};
    return Error{"no " + missing + ": tracing needs CAP_BPF and CAP_PERFMON",
                 "run as root (sudo cwtrace ...), or with the capabilities README "
                 "\"Permissions\" lists (setpriv --ambient-caps, or the unit's "
                 "AmbientCapabilities=)"};
}

std::vector<CapabilityLoss> capability_losses(CapabilitySet effective,
                                              const PrivilegeScene& scene) {
    std::vector<CapabilityLoss> losses;
    if (!has_capability(effective, kCapSysPtrace))
        losses.push_back(
            {"CAP_SYS_PTRACE",
             "Python frames are not shown, nor the frames of processes in other mount "
             "namespaces (containers; every process when cwtrace has a mount namespace of its "
             "own, as under systemd), nor, where owners come from /proc, other users' and "
             "root daemons' sockets' owners"});
    if (!scene.root_uid && !has_any(effective, {kCapDacReadSearch, kCapDacOverride}))
        losses.push_back({"CAP_DAC_READ_SEARCH",
                          "where owners come from /proc, other users' descriptor tables "
                          "(/proc/PID/fd, mode 0500) are not listed: their sockets' owners are "
                          "not shown"});
    if (!has_capability(effective, kCapSysAdmin))
        losses.push_back(
            {"CAP_SYS_ADMIN", network_namespaces_cost(scene.other_network_namespaces)});
    if (!has_any(effective, {kCapSysAdmin, kCapCheckpointRestore}))
        losses.push_back({"CAP_CHECKPOINT_RESTORE",
                          "the frames of binaries deleted or replaced since their process "
                          "started (an upgrade) are not named (/proc/PID/map_files)"});
    if (!scene.kernel_addresses_visible && !has_capability(effective, kCapSyslog))
        losses.push_back(
            {"CAP_SYSLOG", "kernel frames are not named (/proc/kallsyms shows no addresses)"});
    return losses;
}

std::vector<std::string> namespace_losses(const PrivilegeScene& scene) {
    std::vector<std::string> losses;
    if (!scene.host_pid_namespace)
        losses.push_back(
            "cwtrace runs in a pid namespace other than the host's: processes outside it are "
            "not seen, so their sockets read \"held by no process\", their frames are not "
            "named and their network namespaces are not searched (run with the host's: "
            "hostPID: true, docker run --pid=host)");
    if (!scene.host_user_namespace)
        losses.push_back(
            "cwtrace runs in a user namespace other than the host's: other network namespaces "
            "cannot be entered, so their sockets already in CLOSE_WAIT at start are not shown");
    return losses;
}

Result<void> check_metrics_port(CapabilitySet effective, const PrivilegeScene& scene) {
    if (!scene.metrics_port || *scene.metrics_port >= scene.unprivileged_port_start ||
        has_capability(effective, kCapNetBindService))
        return Ok{};
    return Error{"--metrics-addr port " + std::to_string(*scene.metrics_port) +
                     ": binding a port below " + std::to_string(scene.unprivileged_port_start) +
                     " needs CAP_NET_BIND_SERVICE",
                 "use a port from " + std::to_string(scene.unprivileged_port_start) +
                     " (cwtrace's usual one is 9464), or grant CAP_NET_BIND_SERVICE"};
}

PrivilegeScene observe_scene(std::optional<uint16_t> metrics_port, CapabilitySet effective) {
    PrivilegeScene scene;
    scene.root_uid = geteuid() == 0;
    if (auto pid_ns = own_namespace("pid"))
        scene.host_pid_namespace = *pid_ns == kInitialPidNamespace;
    // Without CAP_SYS_ADMIN no namespace is entered anyway, and capability_losses() says so.
    if (auto user_ns = own_namespace("user"); user_ns && has_capability(effective, kCapSysAdmin))
        scene.host_user_namespace = *user_ns == kInitialUserNamespace;
    if (!has_capability(effective, kCapSysAdmin))
        scene.other_network_namespaces = other_network_namespaces(own_network_namespace()).size();
    if (!has_capability(effective, kCapSyslog))
        scene.kernel_addresses_visible = kernel_addresses_visible();
    scene.metrics_port = metrics_port;
    std::ifstream in("/proc/sys/net/ipv4/ip_unprivileged_port_start");
    uint32_t start = 0;
    if (in >> start) scene.unprivileged_port_start = start;
    return scene;
}

}  // namespace cwtrace
