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

OpenerCapacity opener_capacity(const HostTcp& host) {
    // Two pages of tcp_mem a socket: its own queued FIN and its closing peer's (bench measured).
    const uint64_t holdable =
        std::max({host.sockets_now, host.max_orphans, host.mem_high_pages / 2});
    OpenerCapacity out;
    out.wanted = std::bit_ceil(std::max<uint64_t>(2 * holdable, 1));
    const uint64_t affordable = host.mem_total_bytes / kOpenerMemoryShare / kOpenerEntryBytes;
    const uint64_t cap = std::clamp<uint64_t>(affordable, kMinOpenerEntries, kMaxOpenerEntries);
    out.cap = static_cast<uint32_t>(cap);
    out.capped = out.wanted > cap;
    out.entries = static_cast<uint32_t>(std::clamp<uint64_t>(out.wanted, kMinOpenerEntries, cap));
    return out;
}

HostTcp read_host_tcp() {
    HostTcp host;
    host.sockets_now =
        tcp_sockets_in(slurp("/proc/net/sockstat"), slurp("/proc/net/sockstat6")).value_or(0);
    host.max_orphans = sysctl_value("/proc/sys/net/ipv4/tcp_max_orphans");
    host.mem_high_pages = sysctl_value("/proc/sys/net/ipv4/tcp_mem", 2);
    const long page = sysconf(_SC_PAGESIZE), pages = sysconf(_SC_PHYS_PAGES);
    if (page > 0 && pages > 0) host.mem_total_bytes = uint64_t(page) * uint64_t(pages);
    return host;
}

std::string describe(const OpenerCapacity& capacity, const HostTcp& host) {
    std::string text =
        thousands(capacity.entries) + " entries (" + std::to_string(capacity.bytes() >> 20) +
        " MiB) for " + thousands(host.sockets_now) + " TCP sockets now, tcp_max_orphans " +
        thousands(host.max_orphans) + ", tcp_mem " + thousands(host.mem_high_pages) + " pages";
    if (capacity.capped)
        text += "; capped at " + thousands(capacity.cap) + " (1/" +
                std::to_string(kOpenerMemoryShare) + " of memory, at most " +
                thousands(kMaxOpenerEntries) + ")";
    return text;
}

}  // namespace cwtrace
