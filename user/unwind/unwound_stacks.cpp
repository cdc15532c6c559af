#include "unwind/unwound_stacks.h"

namespace cwtrace {

uint32_t UnwoundStacks::add(uint64_t sk, uint64_t opened_ns, const std::vector<uint64_t>& ips) {
    auto [it, fresh] = ids_.try_emplace(ips, static_cast<uint32_t>(stacks_.size()));
    if (fresh) stacks_.push_back(ips);
    Openings& at = by_socket_[sk];
    at.previous = at.latest;
    at.latest = Opening{opened_ns, it->second};
    return it->second;
}

std::optional<uint32_t> UnwoundStacks::find(uint64_t sk, uint64_t opened_ns) const {
    auto it = by_socket_.find(sk);
    if (it == by_socket_.end()) return std::nullopt;
    for (const Opening& o : {it->second.latest, it->second.previous})
        if (o.opened_ns && o.opened_ns == opened_ns) return o.stack_id;
    return std::nullopt;
}

}  // namespace cwtrace
