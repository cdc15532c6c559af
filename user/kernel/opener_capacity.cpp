// The origins map's size from the host's TCP figures (opener_capacity.h).
#include "kernel/opener_capacity.h"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <fstream>

#include "util/fields.h"
#include "util/progress.h"

namespace cwtrace {
namespace {

std::optional<uint64_t> number(std::string_view text) {
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return n;
}

// The value after `name` on the line starting with `label` ("TCP:", "inuse"), or nullopt.
std::optional<uint64_t> field_of(std::string_view text, std::string_view label,
                                 std::string_view name) {
    for (std::string_view rest = text; !rest.empty();) {
        std::string_view line = next_line(rest);
        if (next_field(line) != label) continue;
        for (std::string_view key = next_field(line); !key.empty(); key = next_field(line)) {
            const std::string_view value = next_field(line);
            if (key == name) return number(value);
        }
    }
    return std::nullopt;
}

// The first value of a sysctl file ("131072", or tcp_mem's "low pressure high": `index`).
uint64_t sysctl_value(const char* path, int index = 0) {
    std::ifstream in(path);
    uint64_t value = 0;
    for (int i = 0; i <= index; ++i)
        if (!(in >> value)) return 0;
    return value;
}

std::string slurp(const char* path) {
    bool cut = false;
    return read_procfs_text(path, 1 << 16, cut).value_or("");
}

}  // namespace

std::optional<uint64_t> tcp_sockets_in(std::string_view sockstat, std::string_view sockstat6) {
    const auto alloc = field_of(sockstat, "TCP:", "alloc");
    const auto inuse = field_of(sockstat, "TCP:", "inuse");
    const auto inuse6 = field_of(sockstat6, "TCP6:", "inuse");
    if (!alloc && !inuse && !inuse6) return std::nullopt;
    return std::max(alloc.value_or(0), inuse.value_or(0) + inuse6.value_or(0));
}

OpenerCapacity opener_capacity(const HostTcp& host, uint64_t own_bytes) {
    // Two pages of tcp_mem a socket: its own queued FIN and its closing peer's (bench measured).
    const uint64_t holdable =
        std::max({host.sockets_now, host.max_orphans, host.mem_high_pages / 2});
    OpenerCapacity out;
    out.wanted = std::bit_ceil(std::max<uint64_t>(2 * holdable, 1));
    const uint64_t affordable = host.mem_total_bytes / kOpenerMemoryShare / kOpenerEntryBytes;
    const uint64_t host_cap =
        std::clamp<uint64_t>(affordable, kMinOpenerEntries, kMaxOpenerEntries);
    uint64_t cap = host_cap;
    if (host.cgroup) {
        const uint64_t room = host.cgroup->headroom_bytes;
        const uint64_t share = room > own_bytes ? (room - own_bytes) / kCgroupShare : 0;
        cap = std::clamp<uint64_t>(share / kOpenerEntryBytes, kMinOpenerEntries, host_cap);
    }
    out.cap = static_cast<uint32_t>(cap);
    out.capped = out.wanted > cap;
    out.entries = static_cast<uint32_t>(std::clamp<uint64_t>(out.wanted, kMinOpenerEntries, cap));
    out.host_entries =
        static_cast<uint32_t>(std::clamp<uint64_t>(out.wanted, kMinOpenerEntries, host_cap));
    return out;
}

std::vector<uint32_t> opener_map_sizes(uint32_t planned) {
    std::vector<uint32_t> sizes{planned};
    for (uint32_t half = planned / 2; half > kMinOpenerEntries; half /= 2) sizes.push_back(half);
    if (planned > kMinOpenerEntries) sizes.push_back(kMinOpenerEntries);
    return sizes;
}

HostTcp read_host_tcp() {
    HostTcp host;
    host.sockets_now =
        tcp_sockets_in(slurp("/proc/net/sockstat"), slurp("/proc/net/sockstat6")).value_or(0);
    host.max_orphans = sysctl_value("/proc/sys/net/ipv4/tcp_max_orphans");
    host.mem_high_pages = sysctl_value("/proc/sys/net/ipv4/tcp_mem", 2);
    const long page = sysconf(_SC_PAGESIZE), pages = sysconf(_SC_PHYS_PAGES);
    if (page > 0 && pages > 0) host.mem_total_bytes = uint64_t(page) * uint64_t(pages);
    host.cgroup = read_cgroup_room();
    return host;
}

namespace {

std::string mib(uint64_t bytes) { return thousands(bytes >> 20) + " MiB"; }

// "cwtrace's memory cgroup leaves 412 MiB (/sys/fs/cgroup/x/memory.max: 512 MiB)".
std::string cgroup_room_text(const CgroupRoom& room) {
    return "cwtrace's memory cgroup leaves " + mib(room.headroom_bytes) + " (" + room.limit_file +
           ": " + mib(room.limit_bytes) + ")";
}

}  // namespace

std::string describe(const OpenerCapacity& capacity, const HostTcp& host) {
    std::string text = thousands(capacity.entries) + " entries (" + mib(capacity.bytes()) +
                       ") for " + thousands(host.sockets_now) +
                       " TCP sockets now, tcp_max_orphans " + thousands(host.max_orphans) +
                       ", tcp_mem " + thousands(host.mem_high_pages) + " pages";
    if (host.cgroup)
        text += "; " + cgroup_room_text(*host.cgroup) + ", the map at most 1/" +
                std::to_string(kCgroupShare) + " of it after cwtrace's own " + mib(kOwnBytes);
    if (capacity.capped)
        text += "; capped at " + thousands(capacity.cap) + " (1/" +
                std::to_string(kOpenerMemoryShare) + " of memory, at most " +
                thousands(kMaxOpenerEntries) + (host.cgroup ? ", and the cgroup's share)" : ")");
    return text;
}

std::string cgroup_cap_warning(const OpenerCapacity& capacity, const CgroupRoom& room) {
    return "opener map: " + thousands(capacity.entries) + " entries (" + mib(capacity.bytes()) +
           "), not the " + thousands(capacity.host_entries) +
           " the host calls for: " + cgroup_room_text(room) +
           "; raise that limit so that a burst of connections keeps every opening path";
}

std::string opener_map_shrunk(uint32_t planned, uint32_t entries, const std::string& why) {
    const auto in_mib = [](uint32_t n) {
        return " (" + mib(uint64_t{n} * kOpenerEntryBytes) + ")";
    };
    return "opener map: " + thousands(entries) + " entries" + in_mib(entries) + ", not the " +
           thousands(planned) + " planned" + in_mib(planned) + ": the kernel refused the memory (" +
           why +
           "); raise the memory limit of cwtrace's cgroup so that a burst of connections keeps "
           "every opening path";
}

}  // namespace cwtrace
