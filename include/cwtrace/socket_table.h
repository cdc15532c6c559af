// The sockets currently in CLOSE_WAIT, keyed by struct sock address, with when each entered.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "cwtrace/abi.h"

namespace cwtrace {

struct TrackedSocket {
    uint64_t sk = 0;
    uint64_t ino = 0;  // 0 until the socket is attached to a file (accepted)
    bool inet6 = false;
    uint8_t saddr[16] = {}, daddr[16] = {};
    uint16_t sport = 0, dport = 0;
    uint64_t close_wait_since_ns = 0;  // CLOCK_MONOTONIC
    bool before_start = false;
    std::optional<cw_origin> origin;
};

class SocketTable {
  public:
    // A socket entered CLOSE_WAIT. An entry already under the same address is stale (its
    // leave event was lost and the kernel reused the memory): it is replaced.
    void enter(const cw_event_enter& event);
    // A socket left CLOSE_WAIT. Returns whether it was known.
    bool leave(uint64_t sk);
    // accept() returned a socket that was already in CLOSE_WAIT. Returns whether it was known.
    bool attach_origin(const cw_event_origin& event);

    // Sockets in CLOSE_WAIT for at least `min_age_ns` at `now_ns`, oldest first.
    std::vector<const TrackedSocket*> at_least(uint64_t now_ns, uint64_t min_age_ns) const;

    const TrackedSocket* find(uint64_t sk) const;
    size_t size() const { return sockets_.size(); }

  private:
    std::unordered_map<uint64_t, TrackedSocket> sockets_;
};

}  // namespace cwtrace
