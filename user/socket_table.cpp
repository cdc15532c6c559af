#include "cwtrace/socket_table.h"

#include <algorithm>
#include <cstring>

namespace cwtrace {

namespace {
constexpr uint16_t kAfInet6 = 10;
}

void SocketTable::enter(const cw_event_enter& event) {
    TrackedSocket s;
    s.sk = event.hdr.sk;
    s.ino = event.ino;
    s.inet6 = event.family == kAfInet6;
    std::memcpy(s.saddr, event.saddr, sizeof s.saddr);
    std::memcpy(s.daddr, event.daddr, sizeof s.daddr);
    s.sport = event.sport;
    s.dport = event.dport;
    s.close_wait_since_ns = event.hdr.ts_ns;
    if (event.has_origin) s.origin = event.origin;
    sockets_.insert_or_assign(s.sk, s);
}

bool SocketTable::leave(uint64_t sk) { return sockets_.erase(sk) > 0; }

bool SocketTable::attach_origin(const cw_event_origin& event) {
    auto it = sockets_.find(event.hdr.sk);
    if (it == sockets_.end()) return false;
    it->second.origin = event.origin;
    if (event.ino) it->second.ino = event.ino;
    return true;
}

std::vector<const TrackedSocket*> SocketTable::at_least(uint64_t now_ns,
                                                        uint64_t min_age_ns) const {
    std::vector<const TrackedSocket*> out;
    for (const auto& [sk, s] : sockets_) {
        if (now_ns >= s.close_wait_since_ns && now_ns - s.close_wait_since_ns >= min_age_ns)
            out.push_back(&s);
    }
    std::sort(out.begin(), out.end(), [](const TrackedSocket* a, const TrackedSocket* b) {
        return a->close_wait_since_ns != b->close_wait_since_ns
                   ? a->close_wait_since_ns < b->close_wait_since_ns
                   : a->sk < b->sk;
    });
    return out;
}

const TrackedSocket* SocketTable::find(uint64_t sk) const {
    auto it = sockets_.find(sk);
    return it == sockets_.end() ? nullptr : &it->second;
}

}  // namespace cwtrace
