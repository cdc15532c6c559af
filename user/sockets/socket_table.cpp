#include "sockets/socket_table.h"

#include <algorithm>
#include <random>
#include <utility>

namespace cwtrace {

size_t FlowHash::operator()(const cw_flow& f) const {
    static const uint64_t seed = std::random_device()() | uint64_t{std::random_device()()} << 32;
    static_assert(sizeof f == 5 * sizeof(uint64_t));
    uint64_t words[5];
    std::memcpy(words, &f, sizeof f);
    uint64_t h = seed;
    for (uint64_t w : words) {
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    return h;
}

SortedFlows::SortedFlows(std::vector<cw_flow> flows) : flows_(std::move(flows)) {
    by_hash_.reserve(flows_.size());
    for (size_t i = 0; i < flows_.size(); ++i) by_hash_.emplace_back(FlowHash()(flows_[i]), i);
    std::sort(by_hash_.begin(), by_hash_.end());
}

size_t SortedFlows::count(const cw_flow& flow) const {
    const size_t hash = FlowHash()(flow);
    auto it = std::lower_bound(by_hash_.begin(), by_hash_.end(), std::pair{hash, size_t{0}});
    for (; it != by_hash_.end() && it->first == hash; ++it)
        if (FlowEqual()(flows_[it->second], flow)) return 1;
    return 0;
}

std::optional<uint64_t> SocketTable::key_of(const cw_flow& flow) const {
    auto [it, end] = by_flow_.equal_range(FlowHash()(flow));
    for (; it != end; ++it)
        if (FlowEqual()(sockets_.find(it->second)->flow, flow)) return it->second;
    return std::nullopt;
}

void SocketTable::erase(uint64_t key) {
    const TrackedSocket* s = sockets_.find(key);
    if (!s) return;
    auto [at, end] = by_flow_.equal_range(FlowHash()(s->flow));
    for (; at != end; ++at) {
        if (at->second == key) {
            by_flow_.erase(at);
            break;
        }
    }
    sockets_.erase(key);
}

void SocketTable::enter(const cw_event_enter& event) {
    erase(event.hdr.sk);
    if (auto known = key_of(event.flow)) erase(*known);
    TrackedSocket s;
    s.key = event.hdr.sk;
    s.ino = event.ino;
    s.flow = event.flow;
    s.close_wait_since_ns = event.hdr.ts_ns;
    if (event.has_origin) s.origin = std::make_shared<const cw_origin>(event.origin);
    by_flow_.emplace(FlowHash()(s.flow), s.key);
    sockets_.insert(std::move(s));
}

std::optional<TrackedSocket> SocketTable::take(const cw_event_leave& event) {
    uint64_t key = event.hdr.sk;
    if (const TrackedSocket* s = sockets_.find(key); !s) {
        // Found at start, so known by its flow only.
        auto known = key_of(event.flow);
        if (!known || !sockets_.find(*known)->untraced) return std::nullopt;
        key = *known;
    } else if (s->close_wait_since_ns > event.hdr.ts_ns) {
        // Not the socket that left: a later one at the same address (the kernel reused it) that
        // entered CLOSE_WAIT after this leave, its record read first (quick leaves come last).
        // (A socket found by sock_diag has the time it was found instead: not compared.)
        return std::nullopt;
    }
    std::optional<TrackedSocket> left = *sockets_.find(key);
    erase(key);
    return left;
}

bool SocketTable::attach_origin(const cw_event_origin& event) {
    TrackedSocket* s = sockets_.find(event.hdr.sk);
    if (!s) return false;
    s->origin = std::make_shared<const cw_origin>(event.origin);
    if (event.ino) s->ino = event.ino;
    return true;
}

bool SocketTable::add_before_start(const cw_flow& flow, uint64_t ino, uint64_t tracing_start_ns) {
    if (add_flow(flow, ino, tracing_start_ns, /*before_start=*/true)) return true;
    // The flow is known. Two sockets found at start with one flow are in two network namespaces
    // (identical containers), told apart by their inodes; the first one keeps the flow's index.
    const TrackedSocket& other = *sockets_.find(*key_of(flow));
    if (!other.before_start || !ino || !other.ino || other.ino == ino) return false;
    insert_untraced(flow, ino, tracing_start_ns, /*before_start=*/true);
    return true;
}

bool SocketTable::add_untraced(const cw_flow& flow, uint64_t ino, uint64_t seen_ns) {
    return add_flow(flow, ino, seen_ns, /*before_start=*/false);
}

TrackedFlows SocketTable::tracked_flows() const {
    TrackedFlows tracked;
    tracked.by_hash_.reserve(sockets_.size());
    for (const TrackedSocket& s : sockets_)
        tracked.by_hash_.emplace_back(FlowHash()(s.flow), &s.flow);
    std::sort(tracked.by_hash_.begin(), tracked.by_hash_.end());
    return tracked;
}

std::vector<size_t> unknown_flows(const SortedFlows& dumped, const TrackedFlows& tracked) {
    // Both sides by hash; equal hashes are told apart by the flows themselves.
    std::vector<size_t> unknown;
    auto t = tracked.by_hash().begin();
    const auto end = tracked.by_hash().end();
    for (const auto& [hash, at] : dumped.by_hash()) {
        while (t != end && t->first < hash) ++t;
        bool known = false;
        for (auto same = t; same != end && same->first == hash && !known; ++same)
            known = FlowEqual()(*same->second, dumped[at]);
        if (!known) unknown.push_back(at);
    }
    std::sort(unknown.begin(), unknown.end());
    return unknown;
}

bool SocketTable::add_flow(const cw_flow& flow, uint64_t ino, uint64_t seen_ns, bool before_start) {
    // One lookup of the flow (a million of them at start).
    if (key_of(flow)) return false;
    by_flow_.emplace(FlowHash()(flow), insert_untraced(flow, ino, seen_ns, before_start));
    return true;
}

uint64_t SocketTable::insert_untraced(const cw_flow& flow, uint64_t ino, uint64_t seen_ns,
                                      bool before_start) {
    TrackedSocket s;
    s.key = next_before_start_key_++;
    s.ino = ino;
    s.flow = flow;
    s.close_wait_since_ns = seen_ns;
    s.untraced = true;
    s.before_start = before_start;
    sockets_.insert(std::move(s));
    return next_before_start_key_ - 1;
}

std::vector<const TrackedSocket*> SocketTable::all() const { return at_least(UINT64_MAX, 0); }

std::vector<const TrackedSocket*> SocketTable::at_least(uint64_t now_ns,
                                                        uint64_t min_age_ns) const {
    std::vector<const TrackedSocket*> out;
    for (const TrackedSocket& s : sockets_) {
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

const TrackedSocket* SocketTable::note_in_map(uint64_t key) {
    TrackedSocket* s = sockets_.find(key);
    if (s) s->map_read = map_read_;
    return s;
}

const TrackedSocket* SocketTable::find(uint64_t key) const { return sockets_.find(key); }

}  // namespace cwtrace
