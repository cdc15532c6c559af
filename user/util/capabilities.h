// The calling thread's effective capabilities, as the kernel checks them: what cwtrace may do is
// decided by these, never by its uid (root can run with a few, another user with many).
#pragma once

#include <cstdint>

namespace cwtrace {

// Capability numbers (linux/capability.h; CAP_PERFMON, CAP_BPF and CAP_CHECKPOINT_RESTORE are
// 5.8+ and older headers lack them).
enum Capability : int {
    kCapDacOverride = 1,
    kCapDacReadSearch = 2,
    kCapNetBindService = 10,
    kCapSysPtrace = 19,
    kCapSysAdmin = 21,
    kCapSyslog = 34,
    kCapPerfmon = 38,
    kCapBpf = 39,
    kCapCheckpointRestore = 40,
};

using CapabilitySet = uint64_t;  // bit n: capability n

constexpr bool has_capability(CapabilitySet set, int cap) { return (set >> cap) & 1; }

// The effective set (capget(2)); 0 when it cannot be read.
CapabilitySet effective_capabilities();

}  // namespace cwtrace
