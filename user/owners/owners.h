// Which process holds a socket now: one pass over /proc/*/fd, building inode -> owner.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "util/progress.h"

namespace cwtrace {

struct Owner {
    pid_t pid = 0;  // tgid; the lowest one when several processes share the socket
    std::string comm;
};

// Owners of the socket inodes in `wanted`, read from `proc_root` (normally "/proc").
// Inodes that no process holds are absent from the result.
std::unordered_map<uint64_t, Owner> find_socket_owners(const std::unordered_set<uint64_t>& wanted,
                                                       const std::string& proc_root = "/proc");
// The same, for the inodes `wanted` says yes to (called from several threads at once).
using InodeFilter = std::function<bool(uint64_t)>;
std::unordered_map<uint64_t, Owner> find_socket_owners(const InodeFilter& wanted,
                                                       const std::string& proc_root = "/proc");

// (inode, pid) for each wanted socket and each process holding it (a shared socket once per
// holder), in no particular order: what the pass finds, before it is made a map. `progress`
// hears of the processes read, of all.
using HeldSockets = std::vector<std::pair<uint64_t, pid_t>>;
HeldSockets find_socket_holders(const InodeFilter& wanted, const std::string& proc_root = "/proc",
                                const ProgressFn& progress = {});

// Owners from holders however found (this pass, or SocketHolders): the lowest pid of a shared
// socket, with its comm read from `proc_root`.
std::unordered_map<uint64_t, Owner> owners_of(const HeldSockets& held,
                                              const std::string& proc_root = "/proc");

// The socket inodes a process holds now (empty when it is gone).
std::unordered_set<uint64_t> socket_inodes_of(pid_t pid, const std::string& proc_root = "/proc");

// Start time of a live process since boot, in clock ticks (/proc/PID/stat field 22), or 0.
uint64_t read_start_ticks(pid_t pid, const std::string& proc_root = "/proc");

// Whether `pid` is still the process that started at `start_boottime_ns` (not a reused pid).
bool same_process(pid_t pid, uint64_t start_boottime_ns, const std::string& proc_root = "/proc");

// The comm of a live process, or empty.
std::string read_comm(pid_t pid, const std::string& proc_root = "/proc");

}  // namespace cwtrace
