// The tracked sockets, and where they are kept.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <deque>
#include <memory>

#include "cwtrace/abi.h"

namespace cwtrace {

struct TrackedSocket {
    uint64_t key = 0;  // struct sock address; a small serial number for sockets found at start
    uint64_t ino = 0;  // 0 until the socket is attached to a file (accepted)
    cw_flow flow = {};
    uint64_t close_wait_since_ns = 0;  // CLOCK_MONOTONIC; for before_start, tracing start
    bool before_start = false;         // already in CLOSE_WAIT when tracing began
    // Not followed by the kernel (found by sock_diag: at start, or with --pid later): no leave
    // event will come, so it is checked against sock_diag at each report.
    bool untraced = false;
    // Sweeps running (drop_missing) that found it neither in the kernel's map nor in a dump.
    uint8_t sweeps_missed = 0;
    // The read of the kernel's map that last listed it (SocketTable::note_in_map()); 0: none.
    uint32_t map_read = 0;
    // The opener, when traced; shared, not inline: most sockets of a pile found at start have none.
    std::shared_ptr<const cw_origin> origin;

    bool inet6() const { return flow.family == 10; }
};

// The tracked sockets kept in order in a deque (blocks of a few sockets each, allocated one after
// another), found by key through an index: a report after a loss walks a million of them four
// times (the map's read, the join, the sweep, the candidates), which in a node-based map missed
// the cache at every socket; a vector's growth would have copied them all and held two copies at
// once. Erasing moves the last socket into the hole: a pointer or reference to a socket holds
// until the next erase().
class SocketSlots {
  public:
    TrackedSocket* find(uint64_t key);
    const TrackedSocket* find(uint64_t key) const;
    // Starts loading what find(key) will read: a pass over a million keys in an order of their
    // own (the kernel's map) asks a few keys ahead, where each find() waited on a miss.
    void prefetch(uint64_t key) const { index_.prefetch(key); }
    // `socket` under its key, which no socket here has.
    TrackedSocket& insert(TrackedSocket socket);
    // Returns whether a socket had `key`.
    bool erase(uint64_t key);
    size_t size() const { return slots_.size(); }

    std::deque<TrackedSocket>::iterator begin() { return slots_.begin(); }
    std::deque<TrackedSocket>::iterator end() { return slots_.end(); }
    std::deque<TrackedSocket>::const_iterator begin() const { return slots_.begin(); }
    std::deque<TrackedSocket>::const_iterator end() const { return slots_.end(); }

  private:
    std::deque<TrackedSocket> slots_;
    // key -> slot. Open addressing: a find() costs one miss where a node-based map cost two or
    // three (its bucket, its node, the chain); 17 bytes a slot, 19-39 a socket as the table
    // fills, where the node-based map took about 40 and an allocation each.
    absl::flat_hash_map<uint64_t, uint32_t> index_;
};

}  // namespace cwtrace
