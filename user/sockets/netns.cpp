#include "sockets/netns.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <map>
#include <memory>
#include <string_view>

#include "util/capabilities.h"

namespace cwtrace {
namespace {

struct DirCloser {
    void operator()(DIR* d) const { closedir(d); }
};

bool parse_pid(std::string_view text, pid_t& pid) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
    return ec == std::errc() && end == text.data() + text.size() && pid > 0;
}

}  // namespace

uint64_t own_network_namespace() {
    // The thread's own view: /proc/self names the thread group leader's.
    struct stat st;
    return stat("/proc/thread-self/ns/net", &st) == 0 ? st.st_ino : 0;
}

std::vector<NetNamespace> other_network_namespaces(uint64_t own_inode,
                                                   const std::string& proc_root) {
    std::map<uint64_t, pid_t> first_pid;
    std::unique_ptr<DIR, DirCloser> proc(opendir(proc_root.c_str()));
    if (!proc) return {};
    const int proc_fd = dirfd(proc.get());
    while (dirent* entry = readdir(proc.get())) {
        pid_t pid = 0;
        if (!parse_pid(entry->d_name, pid)) continue;
        struct stat st;
        const std::string ns = std::string(entry->d_name) + "/ns/net";
        if (fstatat(proc_fd, ns.c_str(), &st, 0) != 0 || st.st_ino == own_inode) continue;
        auto [it, added] = first_pid.try_emplace(st.st_ino, pid);
        if (!added && pid < it->second) it->second = pid;
    }
    std::vector<NetNamespace> out;
    for (const auto& [inode, pid] : first_pid) out.push_back({inode, pid});
    return out;
}

Result<EveryNamespaceDump> for_each_tcp_socket_everywhere(uint32_t state_mask,
                                                          const DiagVisitor& visit) {
    EveryNamespaceDump result;
    if (auto ours = for_each_tcp_socket(state_mask, visit); !ours) return ours.error();
    result.namespaces = 1;
    const std::vector<NetNamespace> others = other_network_namespaces(own_network_namespace());
    // Said once at start (app/capabilities), not tried: a thread refused per namespace and dump.
    if (!has_capability(effective_capabilities(), kCapSysAdmin)) {
        result.not_entered = others.size();
        return result;
    }
    for (const NetNamespace& ns : others) {
        const std::string path = "/proc/" + std::to_string(ns.pid) + "/ns/net";
        const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
        // The process may be gone, or another one may have its pid now: check it is still the
        // namespace we listed.
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0 || st.st_ino != ns.inode) {
            if (fd >= 0) close(fd);
            ++result.failed;
            continue;
        }
        auto dumped = for_each_tcp_socket(state_mask, visit, fd);
        close(fd);
        ++(dumped ? result.namespaces : result.failed);
    }
    return result;
}

}  // namespace cwtrace
