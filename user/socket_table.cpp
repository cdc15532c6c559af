#include "cwtrace/socket_table.h"

#include <algorithm>
#include <string_view>

namespace cwtrace {

size_t FlowHash::operator()(const cw_flow& f) const {
    return std::hash<std::string_view>()(
        std::string_view(reinterpret_cast<const char*>(&f), sizeof f));
}

void SocketTable::erase(uint64_t key) {
    auto it = sockets_.find(key);
    if (it == sockets_.end()) return;
    auto flow_it = by_flow_.find(it->second.flow);
    if (flow_it != by_flow_.end() && flow_it->second == key) by_flow_.erase(flow_it);
    sockets_.erase(it);
}

void SocketTable::enter(const cw_event_enter& event) {
    erase(event.hdr.sk);
    if (auto it = by_flow_.find(event.flow); it != by_flow_.end()) erase(it->second);
    TrackedSocket s;
    s.key = event.hdr.sk;
    s.ino = event.ino;
    s.flow = event.flow;
    s.close_wait_since_ns = event.hdr.ts_ns;
    if (event.has_origin) s.origin = std::make_shared<const cw_origin>(event.origin);
    by_flow_[s.flow] = s.key;
    sockets_.emplace(s.key, s);
}

std::optional<TrackedSocket> SocketTable::take(const cw_event_leave& event) {
    uint64_t key = event.hdr.sk;
    if (!sockets_.count(key)) {
        // Found at start, so known by its flow only.
        auto it = by_flow_.find(event.flow);
        if (it == by_flow_.end() || !sockets_.at(it->second).untraced) return std::nullopt;
        key = it->second;
    }
    std::optional<TrackedSocket> left = sockets_.at(key);
    erase(key);
    return left;
}

bool SocketTable::attach_origin(const cw_event_origin& event) {
    auto it = sockets_.find(event.hdr.sk);
    if (it == sockets_.end()) return false;
    it->second.origin = std::make_shared<const cw_origin>(event.origin);
    if (event.ino) it->second.ino = event.ino;
    return true;
}

bool SocketTable::add_before_start(const cw_flow& flow, uint64_t ino, uint64_t tracing_start_ns) {
    if (auto known = by_flow_.find(flow); known != by_flow_.end()) {
        // Two sockets found at start with one flow are in two network namespaces (identical
        // containers), told apart by their inodes; the first one keeps the flow's index.
        const TrackedSocket& other = sockets_.at(known->second);
        if (!other.before_start || !ino || !other.ino || other.ino == ino) return false;
        TrackedSocket s;
        s.key = next_before_start_key_++;
        s.ino = ino;
        s.flow = flow;
        s.close_wait_since_ns = tracing_start_ns;
        s.untraced = true;
        s.before_start = true;
        sockets_.emplace(s.key, s);
        return true;
    }
    if (!add_untraced(flow, ino, tracing_start_ns)) return false;
    sockets_.at(by_flow_.at(flow)).before_start = true;
    return true;
}

bool SocketTable::add_untraced(const cw_flow& flow, uint64_t ino, uint64_t seen_ns) {
    if (by_flow_.count(flow)) return false;
    TrackedSocket s;
    s.key = next_before_start_key_++;
    s.ino = ino;
    s.flow = flow;
    s.close_wait_since_ns = seen_ns;
    s.untraced = true;
    by_flow_[flow] = s.key;
    sockets_.emplace(s.key, s);
    return true;
}

std::vector<const TrackedSocket*> SocketTable::all() const { return at_least(UINT64_MAX, 0); }

std::vector<const TrackedSocket*> SocketTable::at_least(uint64_t now_ns,
                                                        uint64_t min_age_ns) const {
    std::vector<const TrackedSocket*> out;
    for (const auto& [key, s] : sockets_) {
        if (now_ns >= s.close_wait_since_ns && now_ns - s.close_wait_since_ns >= min_age_ns)
            out.push_back(&s);
    }
    std::sort(out.begin(), out.end(), [](const TrackedSocket* a, const TrackedSocket* b) {
        return a->close_wait_since_ns != b->close_wait_since_ns
                   ? a->close_wait_since_ns < b->close_wait_since_ns
                   : a->key < b->key;
    });
    return out;
}

const TrackedSocket* SocketTable::find(uint64_t key) const {
    auto it = sockets_.find(key);
    return it == sockets_.end() ? nullptr : &it->second;
}

}  // namespace cwtrace
