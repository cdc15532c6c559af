// Grouping the report's sockets for a reader (see socket_groups.h).
#include "report/socket_groups.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>

namespace cwtrace {
namespace {

bool origin_unknown(const Origin& o) {
    return o.kind == OriginKind::Unknown && o.user_stack.empty() && o.kernel_stack.empty();
}

// A holder and one endpoint of its socket, compared without building text: a million sockets go
// through here.
struct HeldKey {
    std::optional<uint32_t> pid;
    std::optional<std::string_view> comm;
    bool server = false;
    const Endpoint* endpoint;

    HeldKey(const SocketEntry& s, bool server_side, const Endpoint& e)
        : pid(s.pid), server(server_side), endpoint(&e) {
        if (s.comm) comm = *s.comm;
    }
    std::string_view address() const {
        return {reinterpret_cast<const char*>(endpoint->bytes), sizeof endpoint->bytes};
    }
    bool operator==(const HeldKey& o) const {
        return pid == o.pid && comm == o.comm && server == o.server &&
               endpoint->inet6 == o.endpoint->inet6 && endpoint->port == o.endpoint->port &&
               address() == o.address();
    }
};

struct HeldKeyHash {
    size_t operator()(const HeldKey& k) const {
        const std::hash<std::string_view> h;
        size_t seed = h(k.address()) * 31 + k.endpoint->port * 2 + k.endpoint->inet6;
        seed = seed * 31 + (k.pid ? *k.pid + 1ULL : 0);
        seed = seed * 31 + (k.comm ? h(*k.comm) : 0);
        return seed * 2 + k.server;
    }
};

using HeldCounts = std::unordered_map<HeldKey, size_t, HeldKeyHash>;

// How many of its holder's sockets of unknown side share each local endpoint.
HeldCounts count_unknown_side_locals(const PathGroup& path) {
    HeldCounts locals;
    for (const auto* s : path.sockets)
        if (!s->accepted) ++locals[HeldKey(*s, false, s->local)];
    return locals;
}

// Groups in the order of (holder, side, endpoint) as the reports write them.
std::vector<SocketGroup> in_text_order(std::vector<SocketGroup> groups) {
    using Order = std::tuple<std::string, bool, std::string>;
    std::vector<std::pair<Order, size_t>> order;
    for (size_t i = 0; i < groups.size(); ++i) {
        const SocketEntry& s = *groups[i].sockets.front();
        const Endpoint& e = groups[i].server_side ? s.local : s.remote;
        order.push_back(
            {{format_process(s.comm, s.pid), groups[i].server_side, format_endpoint(s.inet6, e)},
             i});
    }
    std::sort(order.begin(), order.end());
    std::vector<SocketGroup> out;
    for (auto& [key, i] : order) out.push_back(std::move(groups[i]));
    return out;
}

}  // namespace

bool is_server_side(const SocketEntry& socket, bool local_endpoint_shared,
                    std::pair<uint16_t, uint16_t> ephemeral_ports) {
    if (socket.accepted) return *socket.accepted;
    const auto [first, last] = ephemeral_ports;
    // A port outside the range was chosen by a bind(): a listener's. The peer's range is its own
    // host's, unknown here; clients commonly pick from the top of the port space.
    const bool local_bound = socket.local.port < first || socket.local.port > last;
    return local_endpoint_shared || (local_bound && socket.remote.port >= first);
}

std::vector<SocketGroup> group_by_holder(const PathGroup& path,
                                         std::pair<uint16_t, uint16_t> ephemeral_ports) {
    HeldCounts locals = count_unknown_side_locals(path);
    HeldCounts index;  // (holder, side, endpoint) -> group
    std::vector<SocketGroup> groups;
    for (const auto* s : path.sockets) {
        const bool shared = !s->accepted && locals[HeldKey(*s, false, s->local)] > 1;
        const bool server = is_server_side(*s, shared, ephemeral_ports);
        auto [it, added] =
            index.try_emplace(HeldKey(*s, server, server ? s->local : s->remote), groups.size());
        if (added) groups.push_back({path.origin, {}, true, server});
        groups[it->second].sockets.push_back(s);
    }
    return in_text_order(std::move(groups));
}

std::vector<SocketGroup> group_sockets(const Report& report) {
    std::vector<SocketGroup> groups;
    for (const PathGroup& path : group_by_opening_path(report)) {
        if (!origin_unknown(*path.origin)) {
            groups.push_back({path.origin, path.sockets});
            continue;
        }
        for (SocketGroup& g : group_by_holder(path, report.local_port_range))
            groups.push_back(std::move(g));
    }
    for (auto& g : groups) sort_oldest_first(g.sockets);
    std::stable_sort(groups.begin(), groups.end(), [&](const SocketGroup& a, const SocketGroup& b) {
        if (a.sockets.size() != b.sockets.size()) return a.sockets.size() > b.sockets.size();
        return best_age_seconds(*a.sockets.front()) > best_age_seconds(*b.sockets.front());
    });
    return groups;
}

}  // namespace cwtrace
