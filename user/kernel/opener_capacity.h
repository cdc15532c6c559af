// How many openers the kernel's `origins` map holds: sized at start from what the host can hold
// (its TCP sockets now and the limits it sets on them), within a memory cap (the host's, and the
// room cwtrace's memory cgroup leaves), so that a burst of connections loses no opening path
// needlessly, and a loss names the cap that caused it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cwtrace/abi.h"
#include "kernel/cgroup_memory.h"

namespace cwtrace {

// What the host says of its TCP sockets: cheap reads, no socket dump.
struct HostTcp {
    uint64_t sockets_now = 0;          // /proc/net/sockstat and sockstat6 (see tcp_sockets_in())
    uint64_t max_orphans = 0;          // net.ipv4.tcp_max_orphans
    uint64_t mem_high_pages = 0;       // net.ipv4.tcp_mem's third value: the hard limit, in pages
    uint64_t mem_total_bytes = 0;      // MemTotal: the map's memory is kept within a share of it
    std::optional<CgroupRoom> cgroup;  // what cwtrace's memory cgroup leaves it, if it sets a limit
};

// The TCP sockets /proc/net/sockstat and sockstat6 count now: "TCP: inuse I orphan O tw T alloc
// A mem M" (alloc: every TCP socket allocated, of both families) and "TCP6: inuse I6". The larger
// of alloc and I + I6; nullopt when neither text has a TCP line.
std::optional<uint64_t> tcp_sockets_in(std::string_view sockstat, std::string_view sockstat6);

// Kernel memory one preallocated entry costs: struct htab_elem (48 bytes), the key (8), the
// value (struct cw_origin_entry, 136), and a hash bucket (16); measured with bpftool's memlock.
inline constexpr uint64_t kOpenerEntryBytes = 208;
// The smallest size (the BPF object's own) and the largest, whatever the host.
inline constexpr uint32_t kMinOpenerEntries = 262'144;
inline constexpr uint32_t kMaxOpenerEntries = 4'194'304;
// The share of the host's memory the map may take (1/64: 384 MB on a 24 GiB host).
inline constexpr uint64_t kOpenerMemoryShare = 64;

// In a memory cgroup the map takes at most 1/kCgroupShare of the room the cgroup leaves once
// cwtrace's own memory at start (kOwnBytes) is set aside: the rest is for what cwtrace holds of
// the sockets the map can hold, ~790 bytes a socket in a report (789 MB of RSS at 1,000,000
// sockets created while tracing) beside the entry's 208 in the kernel: 208 of ~1,000 is 1/5.
inline constexpr uint64_t kCgroupShare = 5;
// cwtrace's memory at start beside the opener map: the other maps (the stack map 16 MiB, the
// ring buffers 10 MiB, the LRU maps; 52 MiB in all) and its own RSS: 77 MiB measured (a memory
// cgroup's peak less the map), 406 MiB in the ASan build (its shadow memory and the quarantine
// that keeps what libbpf freed of the kernel's BTF); with room for a trace's start.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr uint64_t kOwnBytes = uint64_t{448} << 20;
#else
inline constexpr uint64_t kOwnBytes = uint64_t{96} << 20;
#endif

struct OpenerCapacity {
    uint32_t entries = kMinOpenerEntries;
    uint64_t wanted = 0;        // twice the sockets the host can hold, before the cap
    uint32_t cap = 0;           // the largest size allowed here
    bool capped = false;        // wanted more than the cap
    uint32_t host_entries = 0;  // the size the host alone would have given
    uint64_t bytes() const { return uint64_t{entries} * kOpenerEntryBytes; }
    // The cgroup's room, not the host's memory, set the cap, and it kept the map below what the
    // host alone would have given it.
    bool cgroup_capped() const { return entries < host_entries; }
};

// Twice the sockets the host can hold (the most of: its sockets now, tcp_max_orphans, and the
// sockets tcp_mem's hard limit admits at two pages each, a socket and its closing peer), rounded
// up to a power of two; at least kMinOpenerEntries; at most kMaxOpenerEntries and what fits in
// 1/kOpenerMemoryShare of the host's memory and, in a memory cgroup, 1/kCgroupShare of its room
// after `own_bytes` (not rounded; never below kMinOpenerEntries: a cgroup leaving less gets the
// floor, which may then be refused). Pure: tested with made-up hosts and cgroups.
OpenerCapacity opener_capacity(const HostTcp& host, uint64_t own_bytes = kOwnBytes);

// The sizes to try in turn while the kernel refuses the opener map its memory: `planned`, its
// halves while above kMinOpenerEntries, then kMinOpenerEntries; `planned` alone when no larger.
std::vector<uint32_t> opener_map_sizes(uint32_t planned);

// The opener table's buckets for `entries` openers (bpf/openers.bpf.h): seven ways each. At 1 KiB
// a bucket, an entry costs 147 bytes, within kOpenerEntryBytes. A socket's entry goes in one of
// two buckets: a burst may find both full a little before the table holds `entries`.
inline uint32_t opener_buckets(uint32_t entries) {
    return static_cast<uint32_t>((uint64_t{entries} + CW_OPENER_WAYS - 1) / CW_OPENER_WAYS);
}

// The opener map's size as a load starts from it.
struct OpenerPlan {
    uint32_t entries = kMinOpenerEntries;
    bool set = false;     // set by CWTRACE_ORIGIN_MAP_ENTRIES: loaded at that size or not at all
    std::string warning;  // to say once the map has loaded at `entries` (cgroup_cap_warning())
};

// The host's figures from /proc (missing ones read as 0), and cwtrace's memory cgroup's room.
HostTcp read_host_tcp();

// "1,048,576 entries (208 MiB) for 5 TCP sockets now, ...": for the start's -v line.
std::string describe(const OpenerCapacity& capacity, const HostTcp& host);

// The warning when the cgroup's room, not the host, set the size (cgroup_capped()): the size
// chosen, the host's, and the limit file to raise.
std::string cgroup_cap_warning(const OpenerCapacity& capacity, const CgroupRoom& room);

// The warning when the kernel refused the opener map its planned size and it loaded smaller
// (`why`: strerror of the refusal).
std::string opener_map_shrunk(uint32_t planned, uint32_t entries, const std::string& why);

}  // namespace cwtrace
