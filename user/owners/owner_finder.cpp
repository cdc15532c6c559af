// Owner assignment: the holders of sockets by the BPF walk or the /proc pass, made owners.
#include "owners/owner_finder.h"

#include <spdlog/spdlog.h>
#include <spdlog/stopwatch.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "owners/process_info.h"

namespace cwtrace {

HeldSockets OwnerFinder::find_holders(const InodeFilter& wanted) {
    if (auto held = walk(wanted)) return std::move(*held);
    return find_socket_holders(wanted, "/proc", progress_);
}

std::optional<HeldSockets> OwnerFinder::walk(const InodeFilter& wanted) {
    if (!holders_ && !walk_failed_) {
        auto loaded = SocketHolders::load({.direct_reads = direct_reads_});
        if (loaded) {
            holders_ = std::move(*loaded);
        } else {
            walk_failed_ = true;
            spdlog::debug("{} ({})", loaded.error().message, loaded.error().hint);
        }
    }
    if (!holders_) return std::nullopt;
    spdlog::stopwatch watch;
    // A socket of cwtrace's own that the walk must find, whatever else it holds now.
    const int own = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    auto held = holders_->walk(wanted);
    if (own >= 0) close(own);
    const WalkStats& w = holders_->last_walk();
    const char* failed = !held                         ? "failed"
                         : !w.self_seen                ? "did not find cwtrace's own process"
                         : own >= 0 && !w.self_sockets ? "found none of cwtrace's own sockets"
                                                       : nullptr;
    if (failed) {
        spdlog::debug(
            "BPF socket walk {} ({} processes, {} descriptors read): owners are read "
            "from /proc",
            failed, w.processes, w.fds);
        holders_.reset();
        walk_failed_ = true;
        return std::nullopt;
    }
    spdlog::debug(
        "owners: BPF walk of {} processes, {} descriptors in {} runs: {} held "
        "sockets in CLOSE_WAIT, {} of them wanted, in {:.3f} s",
        w.processes, w.fds, w.runs, w.found, held->size(), watch);
    return held;
}

// Both sides sorted by inode and walked side by side: a million sockets, no hash map.
void assign_owners(OwnerSlots slots, HeldSockets held,
                   std::unordered_map<pid_t, std::string>& comms) {
    // The slots may come in order (the report's index of its sockets): a check where a sort of
    // a million pairs cost a tenth of a second.
    if (!std::is_sorted(slots.begin(), slots.end())) std::sort(slots.begin(), slots.end());
    std::sort(held.begin(), held.end());  // by inode, then pid: a socket's lowest holder first
    std::set<pid_t> owners;
    auto h = held.begin();
    for (auto [ino, owner] : slots) {
        while (h != held.end() && h->first < ino) ++h;
        if (h == held.end()) break;
        if (h->first != ino) continue;
        if (!*owner || h->second < *owner) *owner = h->second;
        owners.insert(*owner);
    }
    for (pid_t pid : owners) {
        auto [it, added] = comms.try_emplace(pid);
        if (added) it->second = read_comm(pid);
    }
}

OwnerDetails owner_details(pid_t pid) {
    ProcessDetails p = read_process_details(pid);
    OwnerDetails d;
    d.cmdline = std::move(p.cmdline);
    if (p.namespaced_pid) d.pid_in_namespace = static_cast<uint32_t>(*p.namespaced_pid);
    d.cgroup = std::move(p.cgroup);
    d.container_id = std::move(p.container_id);
    return d;
}

OwnerDetails OwnerFinder::details(pid_t pid) {
    OwnerDetails d = owner_details(pid);
    d.pod_uid = pod_uid(d.cgroup);
    if (d.pod_uid) {
        if (auto names = kubelet_.lookup(*d.pod_uid, d.container_id)) {
            d.pod = std::move(names->pod);
            d.namespace_name = std::move(names->namespace_name);
            d.container = std::move(names->container);
        }
    }
    return d;
}

}  // namespace cwtrace
