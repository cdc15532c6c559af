// Network namespaces other than ours. A sock_diag dump lists the sockets of the namespace the
// netlink socket was opened in, so the sockets of containers (which have their own) are found by
// opening one inside each of them.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sockets/sock_diag.h"

namespace cwtrace {

struct NetNamespace {
    uint64_t inode = 0;  // what /proc/PID/ns/net names: "net:[inode]"
    pid_t pid = 0;       // a process in it (the lowest pid), through which it is entered
};

// One pass over /proc/*/ns/net: every network namespace a process is in, except `own_inode`'s,
// in inode order.
std::vector<NetNamespace> other_network_namespaces(uint64_t own_inode,
                                                   const std::string& proc_root = "/proc");

// The inode of the calling thread's network namespace, or 0.
uint64_t own_network_namespace();

struct EveryNamespaceDump {
    size_t namespaces = 0;   // dumped, ours included
    size_t failed = 0;       // other namespaces that could not be entered or dumped (gone since)
    size_t not_entered = 0;  // other namespaces left out: no CAP_SYS_ADMIN to enter them
};

// for_each_tcp_socket in our network namespace, then in every other one a process is in. Only a
// failure in ours is an error: a namespace whose last process exited meanwhile is counted, and
// so are the namespaces left out without CAP_SYS_ADMIN (setns() would refuse each).
Result<EveryNamespaceDump> for_each_tcp_socket_everywhere(uint32_t state_mask,
                                                          const DiagVisitor& visit);

}  // namespace cwtrace
