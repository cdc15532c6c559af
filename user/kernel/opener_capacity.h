// How many openers the kernel's `origins` map holds: sized at start from what the host can hold
// (its TCP sockets now and the limits it sets on them), within a memory cap, so that a burst of
// connections loses no opening path needlessly, and a loss names the cap that caused it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cwtrace {

// What the host says of its TCP sockets: cheap reads, no socket dump.
struct HostTcp {
    uint64_t sockets_now = 0;      // /proc/net/sockstat and sockstat6 (see tcp_sockets_in())
    uint64_t max_orphans = 0;      // net.ipv4.tcp_max_orphans
    uint64_t mem_high_pages = 0;   // net.ipv4.tcp_mem's third value: the hard limit, in pages
    uint64_t mem_total_bytes = 0;  // MemTotal: the map's memory is kept within a share of it
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

struct OpenerCapacity {
    uint32_t entries = kMinOpenerEntries;
    uint64_t wanted = 0;  // twice the sockets the host can hold, before the cap
    uint32_t cap = 0;     // the largest size allowed here
    bool capped = false;  // wanted more than the cap
    uint64_t bytes() const { return uint64_t{entries} * kOpenerEntryBytes; }
};

// Twice the sockets the host can hold (the most of: its sockets now, tcp_max_orphans, and the
// sockets tcp_mem's hard limit admits at two pages each, a socket and its closing peer), rounded
// up to a power of two; at least kMinOpenerEntries; at most kMaxOpenerEntries and what fits in
// 1/kOpenerMemoryShare of the host's memory (not rounded). Pure: tested with made-up hosts.
OpenerCapacity opener_capacity(const HostTcp& host);

// The host's figures from /proc (missing ones read as 0).
HostTcp read_host_tcp();

// "1,048,576 entries (218 MB) for 575,814 sockets the host can hold": for the start's log line.
std::string describe(const OpenerCapacity& capacity, const HostTcp& host);

}  // namespace cwtrace
