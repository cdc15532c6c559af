// The CLOSE_WAIT scan: one sock_diag dump of the listeners, one of the sockets in CLOSE_WAIT, in
// every network namespace, each socket's facts judged as the dump lists it.
#include "sockets/close_wait_scan.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <set>

#include "sockets/netns.h"
#include "util/huge_pages.h"

namespace cwtrace {
namespace {

// An address as 16 bytes with IPv4 in the first 4, IPv4-mapped IPv6 addresses too, so that a
// dual-stack socket compares equal to the IPv4 listener it came through.
std::array<uint8_t, 16> plain_addr(const uint8_t (&addr)[16]) {
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    std::array<uint8_t, 16> out = {};
    if (std::memcmp(addr, kMapped, sizeof kMapped) == 0)
        std::memcpy(out.data(), addr + 12, 4);
    else
        std::memcpy(out.data(), addr, 16);
    return out;
}

// Where sockets listen now: a socket on a listener's address and port was accepted from it.
class Listeners {
  public:
    void add(const DiagSocket& d) {
        const auto addr = plain_addr(d.saddr);
        if (std::all_of(addr.begin(), addr.end(), [](uint8_t b) { return b == 0; }))
            any_addr_.insert(d.sport);
        else
            bound_.insert({addr, d.sport});
    }
    bool listening(const DiagSocket& d) const {
        return any_addr_.count(d.sport) || bound_.count({plain_addr(d.saddr), d.sport});
    }

  private:
    std::set<uint16_t> any_addr_;
    std::set<std::pair<std::array<uint8_t, 16>, uint16_t>> bound_;
};

// Every socket in CLOSE_WAIT now, in every network namespace; a failed dump is said, and its
// sockets already visited stay visited.
void dump_close_wait(const DiagVisitor& visit) {
    auto visited = for_each_tcp_socket_everywhere(1u << CW_TCP_CLOSE_WAIT, visit);
    if (!visited)
        spdlog::warn("cannot list the sockets in CLOSE_WAIT: {}", visited.error().message);
    else if (visited->failed || visited->not_entered)
        spdlog::debug(
            "sock_diag: {} network namespaces could not be listed (gone?), {} not entered (no "
            "CAP_SYS_ADMIN)",
            visited->failed, visited->not_entered);
}

}  // namespace

cw_flow flow_of(const DiagSocket& d) {
    cw_flow flow = {};
    std::memcpy(flow.saddr, d.saddr, sizeof flow.saddr);
    std::memcpy(flow.daddr, d.daddr, sizeof flow.daddr);
    flow.family = d.inet6 ? 10 : 2;
    flow.sport = d.sport;
    flow.dport = d.dport;
    return flow;
}

Diagnosis diagnose(uint32_t recv_q) {
    if (recv_q == 0) return Diagnosis::EofReadNotClosed;
    return recv_q == 1 ? Diagnosis::EofNotRead : Diagnosis::UnreadData;
}

std::pair<uint16_t, uint16_t> ephemeral_ports() {
    std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
    unsigned low = 0, high = 0;
    if (in >> low >> high && low <= high && high <= 65535)
        return {static_cast<uint16_t>(low), static_cast<uint16_t>(high)};
    return kDefaultLocalPortRange;
}

std::vector<DumpedSocket> close_wait_now(size_t expected) {
    std::vector<DumpedSocket> out;
    out.reserve(expected + expected / 8);
    advise_huge_pages(out);
    for_each_close_wait([&](const DiagSocket& d, const SocketFacts& facts) {
        out.push_back({flow_of(d), d.inode, facts});
    });
    return out;
}

void for_each_close_wait(const FactsVisitor& visit) {
    Listeners listeners;
    auto listed = for_each_tcp_socket_everywhere(1u << CW_TCP_LISTEN,
                                                 [&](const DiagSocket& d) { listeners.add(d); });
    if (!listed) spdlog::debug("sock_diag: {}", listed.error().message);
    const std::pair<uint16_t, uint16_t> ephemeral = ephemeral_ports();  // lambdas (clang 14)
    const uint16_t low = ephemeral.first, high = ephemeral.second;
    dump_close_wait([&](const DiagSocket& d) {
        SocketFacts facts;
        facts.found = true;
        facts.recv_q = d.recv_q;
        facts.send_q = d.send_q;
        facts.has_tcp_info = d.tcp_info.has_value();
        if (d.tcp_info) facts.last_ack_recv_ms = d.tcp_info->last_ack_recv_ms;
        // A listener on its local endpoint: accepted. None, on a port connect() picks from: a
        // client's. Otherwise (a server that stopped listening?) not known.
        if (listeners.listening(d))
            facts.accepted = true;
        else if (d.sport >= low && d.sport <= high)
            facts.accepted = false;
        visit(d, facts);
    });
}

void TrackedIndex::add(uint32_t at, const TrackedSocket& s) {
    if (s.ino) {
        by_inode_.emplace_back(s.ino, at);
    } else {
        by_flow_.emplace(s.flow, at);
    }
}

std::optional<uint32_t> TrackedIndex::at_inode(uint64_t inode) const {
    auto it = std::lower_bound(by_inode_.begin(), by_inode_.end(), std::pair{inode, uint32_t{0}});
    // One inode, one socket: the first entry is the one added first (positions ascend).
    if (it == by_inode_.end() || it->first != inode) return std::nullopt;
    return it->second;
}

bool TrackedIndex::holds(uint64_t inode) const { return at_inode(inode).has_value(); }

std::optional<uint32_t> TrackedIndex::find(const DiagSocket& d) const {
    if (d.inode) {
        if (const auto at = at_inode(d.inode)) return at;
    }
    auto it = by_flow_.find(flow_of(d));
    return it == by_flow_.end() ? std::nullopt : std::optional(it->second);
}

void TrackedIndex::match(const std::vector<DumpedSocket>& dump,
                         const std::function<void(size_t, uint32_t)>& found) const {
    std::vector<std::pair<uint64_t, size_t>> dumped;  // inode, position in the dump
    dumped.reserve(dump.size());
    for (size_t i = 0; i < dump.size(); ++i)
        if (dump[i].inode) dumped.emplace_back(dump[i].inode, i);
    std::sort(dumped.begin(), dumped.end());
    std::vector<bool> by_inode(dump.size());
    auto t = by_inode_.begin();
    for (const auto& [inode, at] : dumped) {
        while (t != by_inode_.end() && t->first < inode) ++t;
        if (t == by_inode_.end() || t->first != inode) continue;
        by_inode[at] = true;
        found(at, t->second);
    }
    if (by_flow_.empty()) return;
    for (size_t i = 0; i < dump.size(); ++i) {
        if (by_inode[i]) continue;
        auto it = by_flow_.find(dump[i].flow);
        if (it != by_flow_.end()) found(i, it->second);
    }
}

void look_up_close_wait(const TrackedIndex& index, const FoundFacts& found) {
    for_each_close_wait([&](const DiagSocket& d, const SocketFacts& facts) {
        if (const auto at = index.find(d)) found(*at, facts);
    });
}

void look_up_close_wait(const TrackedIndex& index, const std::vector<DumpedSocket>& dump,
                        const FoundFacts& found) {
    index.match(dump, [&](size_t dumped, uint32_t at) { found(at, dump[dumped].facts); });
}

}  // namespace cwtrace
