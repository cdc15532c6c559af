#include "owners/kubernetes.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <memory>
#include <vector>

namespace cwtrace {
namespace {

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool is_alnum(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'); }

// A pod UID as kubelet writes it: a UUID "8-4-4-4-12" (dashes given as `dash`), or 32 plain hex
// digits (a static pod's). Dashed, or nullopt.
std::optional<std::string> normalized_uid(std::string_view text, char dash) {
    if (text.size() == 32 && std::all_of(text.begin(), text.end(), is_hex))
        return std::string(text);
    if (text.size() != 36) return std::nullopt;
    std::string uid(text);
    for (size_t i = 0; i < uid.size(); ++i) {
        const bool separator = i == 8 || i == 13 || i == 18 || i == 23;
        if (separator ? uid[i] != dash : !is_hex(uid[i])) return std::nullopt;
        if (separator) uid[i] = '-';
    }
    return uid;
}

// "kubepods-besteffort-pod<uid>.slice" and its QoS siblings (systemd driver).
std::optional<std::string> systemd_pod_uid(std::string_view component) {
    static constexpr std::array<std::string_view, 3> kPrefixes = {
        "kubepods-pod", "kubepods-besteffort-pod", "kubepods-burstable-pod"};
    if (!component.ends_with(".slice")) return std::nullopt;
    component.remove_suffix(6);
    for (auto prefix : kPrefixes)
        if (component.starts_with(prefix))
            return normalized_uid(component.substr(prefix.size()), '_');
    return std::nullopt;
}

struct DirCloser {
    void operator()(DIR* d) const { closedir(d); }
};
using Dir = std::unique_ptr<DIR, DirCloser>;

// A directory below `parent` (or the path itself when `parent` is AT_FDCWD), never through a
// symbolic link: kubelet's tree holds links to logs, and a name may be anyone's.
Dir open_directory(int parent, const std::string& name) {
    const int fd = openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return nullptr;
    Dir dir(fdopendir(fd));
    if (!dir) close(fd);
    return dir;
}

bool is_directory(int parent, const dirent& entry) {
    if (entry.d_type != DT_UNKNOWN) return entry.d_type == DT_DIR;
    struct stat st;
    return fstatat(parent, entry.d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

// Each name in `dir` but "." and "..", at most `limit` of them.
template <typename Visit>
void for_each_entry(DIR* dir, size_t limit, Visit visit) {
    for (size_t seen = 0; seen < limit; ++seen) {
        const dirent* entry = readdir(dir);
        if (!entry) return;
        const std::string_view name = entry->d_name;
        if (name != "." && name != "..") visit(*entry);
    }
}

// The container's name when the pod's directory holds exactly one valid one.
std::optional<std::string> only_container(int pods_fd, const std::string& pod_entry) {
    Dir pod = open_directory(pods_fd, pod_entry);
    if (!pod) return std::nullopt;
    std::optional<std::string> only;
    size_t found = 0;
    for_each_entry(pod.get(), 64, [&](const dirent& entry) {
        if (!is_dns_label(entry.d_name) || !is_directory(dirfd(pod.get()), entry)) return;
        if (++found == 1) only = entry.d_name;
    });
    return found == 1 ? only : std::nullopt;
}

}  // namespace

bool is_dns_label(std::string_view name) {
    return !name.empty() && name.size() <= 63 && is_alnum(name.front()) && is_alnum(name.back()) &&
           std::all_of(name.begin(), name.end(), [](char c) { return is_alnum(c) || c == '-'; });
}

bool is_dns_subdomain(std::string_view name) {
    return !name.empty() && name.size() <= 253 && is_alnum(name.front()) && is_alnum(name.back()) &&
           std::all_of(name.begin(), name.end(),
                       [](char c) { return is_alnum(c) || c == '-' || c == '.'; });
}

std::optional<std::string> pod_uid(std::string_view cgroup_path) {
    // Components outermost first; the innermost pod wins (a pod's cgroup nested in another's).
    std::vector<std::string_view> parts;
    for (size_t at = 0; at <= cgroup_path.size();) {
        size_t slash = cgroup_path.find('/', at);
        if (slash == std::string_view::npos) slash = cgroup_path.size();
        if (slash > at) parts.push_back(cgroup_path.substr(at, slash - at));
        at = slash + 1;
    }
    std::optional<std::string> found;
    bool below_kubepods = false;
    for (std::string_view part : parts) {
        if (auto uid = systemd_pod_uid(part)) found = std::move(uid);
        if (below_kubepods && part.starts_with("pod"))
            if (auto uid = normalized_uid(part.substr(3), '-')) found = std::move(uid);
        if (part == "kubepods" || part == "kubepods.slice") below_kubepods = true;
    }
    return found;
}

std::optional<PodDirectory> parse_pod_directory(std::string_view entry) {
    // Neither a namespace nor a pod name holds '_': the first and the last split the three.
    const size_t first = entry.find('_'), last = entry.rfind('_');
    if (first == std::string_view::npos || first == last) return std::nullopt;
    PodDirectory pod{std::string(entry.substr(0, first)),
                     std::string(entry.substr(first + 1, last - first - 1)), ""};
    auto uid = normalized_uid(entry.substr(last + 1), '-');
    if (!uid || !is_dns_label(pod.namespace_name) || !is_dns_subdomain(pod.pod))
        return std::nullopt;
    pod.uid = std::move(*uid);
    return pod;
}

std::optional<std::pair<std::string, std::string>> parse_container_log(std::string_view entry) {
    constexpr size_t kIdDigits = 64;
    if (!entry.ends_with(".log")) return std::nullopt;
    entry.remove_suffix(4);
    if (entry.size() < kIdDigits + 1 || entry[entry.size() - kIdDigits - 1] != '-')
        return std::nullopt;
    const std::string_view id = entry.substr(entry.size() - kIdDigits);
    if (!std::all_of(id.begin(), id.end(), is_hex)) return std::nullopt;
    entry.remove_suffix(kIdDigits + 1);
    const size_t last = entry.rfind('_');
    if (last == std::string_view::npos) return std::nullopt;
    const std::string_view container = entry.substr(last + 1);
    if (!is_dns_label(container)) return std::nullopt;
    return std::pair{std::string(container), std::string(id)};
}

void KubeletNames::list_tree() {
    listed_at_ = std::chrono::steady_clock::now();
    pods_.clear();
    containers_.clear();
    const std::string root = host_root_.ends_with('/') ? host_root_ : host_root_ + "/";
    if (Dir pods = open_directory(AT_FDCWD, root + "var/log/pods")) {
        for_each_entry(pods.get(), kMaxEntries, [&](const dirent& entry) {
            if (pods_.size() >= kMaxPods) return;
            auto parsed = parse_pod_directory(entry.d_name);
            if (!parsed || !is_directory(dirfd(pods.get()), entry)) return;
            pods_[parsed->uid] = {std::move(parsed->namespace_name), std::move(parsed->pod),
                                  only_container(dirfd(pods.get()), entry.d_name)};
        });
    }
    // Entries here are links to the logs: their names are what is read, never their targets.
    if (Dir logs = open_directory(AT_FDCWD, root + "var/log/containers")) {
        for_each_entry(logs.get(), kMaxEntries, [&](const dirent& entry) {
            if (containers_.size() >= kMaxContainers) return;
            if (auto parsed = parse_container_log(entry.d_name))
                containers_.emplace(std::move(parsed->second), std::move(parsed->first));
        });
    }
}

std::optional<KubernetesNames> KubeletNames::lookup(
    std::string_view pod_uid, const std::optional<std::string>& container_id) {
    const std::string uid(pod_uid);
    auto pod = pods_.find(uid);
    const bool container_unknown = container_id && !containers_.count(*container_id);
    if (pod == pods_.end() || container_unknown) {
        // A new pod, or a new container in one: list again, not more than once a second.
        const auto now = std::chrono::steady_clock::now();
        if (!listed_at_ || now - *listed_at_ >= std::chrono::seconds(1)) {
            list_tree();
            pod = pods_.find(uid);
        }
    }
    if (pod == pods_.end()) return std::nullopt;
    KubernetesNames names{pod->second.name, pod->second.namespace_name, {}};
    if (container_id)
        if (auto c = containers_.find(*container_id); c != containers_.end())
            names.container = c->second;
    if (!names.container) names.container = pod->second.only_container;
    return names;
}

}  // namespace cwtrace
