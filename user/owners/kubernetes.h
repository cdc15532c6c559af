// Kubernetes names of a socket's owner from what the node itself holds, no API server: the pod
// UID in the owner's cgroup path (kubelet's cgroups, either driver), then the pod's namespace and
// name and the container's name from the names of kubelet's log tree under the host root:
//   /var/log/pods/<namespace>_<pod>_<uid>/<container>/
//   /var/log/containers/<pod>_<namespace>_<container>-<container id>.log
// Only directory entries are read; nothing there is opened or followed. Those names come from
// whoever may create pods: each is checked against Kubernetes' own rules (lengths, characters),
// so what is kept is short and safe to display.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace cwtrace {

// The pod UID a cgroup path names, with dashes ("0f1e2d3c-..."), innermost match first, or
// nullopt. systemd driver: a component "kubepods-pod<uid>.slice",
// "kubepods-besteffort-pod<uid>.slice" or "kubepods-burstable-pod<uid>.slice", the UID's dashes
// written as underscores; cgroupfs driver: a component "pod<uid>" below a "kubepods" one
// ("/kubepods/besteffort/pod<uid>/<id>", "/kubepods/pod<uid>/<id>" for guaranteed pods). A UID
// is 32 hex digits, as a dashed UUID or plain (static pods' are a hash of their manifest).
std::optional<std::string> pod_uid(std::string_view cgroup_path);

// What kubelet's names tell of one container.
struct KubernetesNames {
    std::string pod, namespace_name;
    std::optional<std::string> container;  // nullopt when the log tree does not say which one
};

// Names by pod UID and container id, from the log tree under a host root. A pod not yet known
// makes the next lookup list the tree again, at most once a second; what is kept is bounded.
class KubeletNames {
  public:
    static constexpr size_t kMaxPods = 4096;         // a node runs ~110 by default
    static constexpr size_t kMaxContainers = 16384;  // their containers, restarts included
    static constexpr size_t kMaxEntries = 65536;     // directory entries read per listing

    explicit KubeletNames(std::string host_root = "/") : host_root_(std::move(host_root)) {}

    // `container_id`: the 64-hex-digit id from the same cgroup path, when it names one.
    std::optional<KubernetesNames> lookup(std::string_view pod_uid,
                                          const std::optional<std::string>& container_id);

  private:
    struct Pod {
        std::string namespace_name, name;
        std::optional<std::string> only_container;  // when the pod's directory holds one
    };
    void list_tree();

    std::string host_root_;
    std::unordered_map<std::string, Pod> pods_;                       // by UID
    std::unordered_map<std::string, std::string> containers_;         // name by container id
    std::optional<std::chrono::steady_clock::time_point> listed_at_;  // never, until the first
};

// Kubernetes' rules for the names above, as the log tree's parsers apply them. A DNS label
// (namespace, container): 1-63 of [a-z0-9-], alphanumeric at both ends; a DNS subdomain (pod):
// 1-253 of [a-z0-9.-], alphanumeric at both ends.
bool is_dns_label(std::string_view name);
bool is_dns_subdomain(std::string_view name);

// "<namespace>_<pod>_<uid>" (a /var/log/pods entry) -> its parts, or nullopt when any part breaks
// the rules. The UID comes back dashed.
struct PodDirectory {
    std::string namespace_name, pod, uid;
};
std::optional<PodDirectory> parse_pod_directory(std::string_view entry);

// "<pod>_<namespace>_<container>-<64 hex id>.log" (a /var/log/containers entry) -> container name
// and id, or nullopt.
std::optional<std::pair<std::string, std::string>> parse_container_log(std::string_view entry);

}  // namespace cwtrace
