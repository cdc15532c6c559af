// Who holds the sockets a report is about: the BPF walk of the file tables (SocketHolders) while
// this kernel runs it, the /proc pass otherwise; each socket's owner from its holders, and what
// /proc says of that owner.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "model/report.h"
#include "owners/kubernetes.h"
#include "owners/owners.h"
#include "owners/socket_holders.h"

namespace cwtrace {

class OwnerFinder {
  public:
    // `proc_only`: never the BPF walk, always the /proc pass. `host_root`: where the host's
    // filesystem is seen (CWTRACE_HOST_ROOT), for kubelet's log tree.
    explicit OwnerFinder(bool proc_only = false, std::string host_root = "/")
        : walk_failed_(proc_only), kubelet_(std::move(host_root)) {}

    // The holders of the sockets `wanted` says yes to: the walk, or the /proc pass when it fails.
    HeldSockets find_holders(const InodeFilter& wanted);
    // The BPF walk alone (loaded at first need); nullopt when it cannot be used or fails its check
    // of itself (it must find cwtrace's own process and sockets: a verifier that pruned half of
    // it returns an empty walk, not an error), and from then on find_holders() reads /proc.
    std::optional<HeldSockets> walk(const InodeFilter& wanted);

    // Frees the walk's program and maps (a later walk loads them again).
    void unload() { holders_.reset(); }

    // Told of the /proc pass's progress from now on (empty: nobody).
    void set_progress(ProgressFn progress) { progress_ = std::move(progress); }

    // The /proc pass from now on (the kernel's programs leave the walk out: it needs bpf_loop).
    void use_proc() {
        holders_.reset();
        walk_failed_ = true;
    }
    // The walk reads kernel fields by plain loads (the tracer loaded its direct programs).
    void use_direct_reads() { direct_reads_ = true; }

    // What /proc says of an owner (command line, pid in its namespace, cgroup, container) and,
    // for a process in a pod, what kubelet's files name it.
    OwnerDetails details(pid_t pid);

  private:
    std::unique_ptr<SocketHolders> holders_;
    bool walk_failed_ = false;
    bool direct_reads_ = false;
    KubeletNames kubelet_;
    ProgressFn progress_;
};

// What /proc says of an owner (command line, pid in its namespace, cgroup, container), without
// the Kubernetes names OwnerFinder::details() adds: what --container and --cgroup judge.
OwnerDetails owner_details(pid_t pid);

// The owner field of each socket looked for, by its inode.
using OwnerSlots = std::vector<std::pair<uint64_t, pid_t*>>;

// Sets each socket's owner from its holders: the lowest pid of a shared socket, as the /proc
// pass has always said. Adds the owners' comms to `comms`.
void assign_owners(OwnerSlots slots, HeldSockets held,
                   std::unordered_map<pid_t, std::string>& comms);

}  // namespace cwtrace
