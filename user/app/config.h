// The CWTRACE_* environment variables, parsed once at start beside the command line: settings a
// test or an unusual host needs that the command line does not offer.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace cwtrace {

struct EnvConfig {
    // Kernel map and ring sizes; 0 keeps the BPF object's default. How tests fill maps on
    // purpose, and how a host at unusual scale trades kernel memory for capacity.
    uint32_t origin_map_entries = 0;  // CWTRACE_ORIGIN_MAP_ENTRIES
    uint32_t stack_map_entries = 0;   // CWTRACE_STACK_MAP_ENTRIES
    uint32_t ringbuf_bytes = 0;       // CWTRACE_RINGBUF_BYTES
    uint32_t copy_ringbuf_bytes = 0;  // CWTRACE_COPY_RINGBUF_BYTES
    uint32_t quick_ring_slots = 0;    // CWTRACE_QUICK_RING_SLOTS (tests: a ring that fills)
    // CWTRACE_PROBED_READS: load the programs that read kernel fields through helper calls (what
    // kernels before 6.2 get) even where the direct ones load.
    bool probed_reads = false;
    // CWTRACE_NO_BPF_LOOP: load the programs for kernels without bpf_loop (before 5.17) even
    // where it exists: how they are tested on a newer kernel.
    bool no_bpf_loop = false;
    // CWTRACE_PROC_OWNERS: find the holders of sockets by reading /proc, not by the BPF walk.
    bool proc_owners = false;
    // CWTRACE_TRACEFS: where tracefs is mounted, instead of looking for (or mounting) it.
    std::string tracefs;
    // CWTRACE_HOST_ROOT: where the host's filesystem is seen (kubelet's /var/log/pods beneath
    // it), for cwtrace in a container with the host's root mounted elsewhere ("/host").
    std::string host_root = "/";
    // One line per variable set to a value that was ignored ("ignoring X=abc: not a size").
    std::vector<std::string> warnings;
};

// `lookup` is getenv, or a table in tests.
EnvConfig read_env_config(const std::function<const char*(const char*)>& lookup);

}  // namespace cwtrace
