// The sockets currently in CLOSE_WAIT, keyed by struct sock address, with when each entered.
// Sockets found already in CLOSE_WAIT at start (sock_diag) have no address: they are keyed by
// their flow, which is also how live events are reconciled with them.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "cwtrace/abi.h"
#include "sockets/socket_slots.h"

namespace cwtrace {

// A flow's hash: a multiply-xorshift over its five words, seeded once per process (the peers
// choose addresses and ports). A million flows are hashed twice in a report after a loss, where
// the standard string hash cost a quarter of a second.
struct FlowHash {
    size_t operator()(const cw_flow& f) const;
};
struct FlowEqual {
    bool operator()(const cw_flow& a, const cw_flow& b) const {
        return std::memcmp(&a, &b, sizeof a) == 0;
    }
};

// Flows sorted by hash, asked as a set is: the million of one dump in one sort, where a hash set
// allocated a node each; the same order serves SocketTable::unknown_flows()'s join.
class SortedFlows {
  public:
    explicit SortedFlows(std::vector<cw_flow> flows);
    // 1 if listed, else 0.
    size_t count(const cw_flow& flow) const;
    const cw_flow& operator[](size_t at) const { return flows_[at]; }
    // (FlowHash, position), ascending.
    const std::vector<std::pair<size_t, size_t>>& by_hash() const { return by_hash_; }

  private:
    std::vector<cw_flow> flows_;
    std::vector<std::pair<size_t, size_t>> by_hash_;
};

// The tracked sockets' flows sorted by hash (SocketTable::tracked_flows()), the other half of
// unknown_flows()'s join: taken while the dump is under way. Valid while the table is unchanged.
class TrackedFlows {
  public:
    // (FlowHash, the flow in its socket), ascending.
    const std::vector<std::pair<size_t, const cw_flow*>>& by_hash() const { return by_hash_; }

  private:
    friend class SocketTable;
    std::vector<std::pair<size_t, const cw_flow*>> by_hash_;
};

// The positions in `dumped` (ascending) of the flows no tracked socket has.
std::vector<size_t> unknown_flows(const SortedFlows& dumped, const TrackedFlows& tracked);

class SocketTable {
  public:
    // A socket entered CLOSE_WAIT. An entry for the same address (its leave event was lost and
    // the kernel reused the memory) or the same flow (found at start too) is replaced.
    void enter(const cw_event_enter& event);
    // A socket left CLOSE_WAIT. Returns whether it was known.
    bool leave(const cw_event_leave& event) { return take(event).has_value(); }
    // Likewise, returning the socket as it was tracked (nullopt if unknown, or if the one
    // tracked at that address entered CLOSE_WAIT after the leave: another socket).
    std::optional<TrackedSocket> take(const cw_event_leave& event);
    // accept() returned a socket that was already in CLOSE_WAIT. Returns whether it was known.
    bool attach_origin(const cw_event_origin& event);
    // A socket found in CLOSE_WAIT at start. Ignored (false) when its flow is already known, unless
    // it was found at start too with another inode (the same flow in another network namespace).
    bool add_before_start(const cw_flow& flow, uint64_t ino, uint64_t tracing_start_ns);
    // A socket found in CLOSE_WAIT by sock_diag while tracing that the kernel does not follow
    // (with --pid, one a selected process did not open). Ignored (false) when already known.
    bool add_untraced(const cw_flow& flow, uint64_t ino, uint64_t seen_ns);
    // The tracked flows for unknown_flows(): a whole dump (a million flows after a lost event)
    // is one sorted join, where asking add_untraced() of each missed the cache four times a
    // flow, seconds in all.
    TrackedFlows tracked_flows() const;
    // Forgets the untraced sockets whose flow `still_in_close_wait` no longer lists. Returns how
    // many.
    template <typename FlowSet>
    size_t drop_untraced_missing(const FlowSet& still_in_close_wait) {
        std::vector<uint64_t> gone;
        for (const TrackedSocket& s : sockets_)
            if (s.untraced && !still_in_close_wait.count(s.flow)) gone.push_back(s.key);
        for (uint64_t key : gone) erase(key);
        return gone.size();
    }

    // After a lost event (a leave record among them) a socket may stay tracked long after it
    // closed: diagnosis unknown, no owner, counted in every report and gauge. Forgets the
    // sockets listed neither in the kernel's last read map (note_in_map()) nor in the latest
    // sock_diag dump (`in_dump`, by flow) by the second sweep running: one that entered
    // CLOSE_WAIT after the dump was taken is missed by one sweep only. Returns how many went.
    template <typename FlowSet>
    size_t drop_missing(const FlowSet& in_dump) {
        std::vector<uint64_t> gone;
        for (TrackedSocket& s : sockets_) {
            if (in_last_map_read(s) || in_dump.count(s.flow))
                s.sweeps_missed = 0;
            else if (++s.sweeps_missed >= kSweepsToDrop)
                gone.push_back(s.key);
        }
        for (uint64_t key : gone) erase(key);
        return gone.size();
    }

    // Every tracked socket, oldest first.
    std::vector<const TrackedSocket*> all() const;
    // Sockets in CLOSE_WAIT for at least `min_age_ns` at `now_ns` by their traced age.
    std::vector<const TrackedSocket*> at_least(uint64_t now_ns, uint64_t min_age_ns) const;

    const TrackedSocket* find(uint64_t key) const;

    // A read of the kernel's map of sockets in CLOSE_WAIT begins: the sockets it lists are noted
    // in each (a mark, where a set of a million keys cost a search each, twice a report).
    void begin_map_read() { ++map_read_; }
    // The socket at `key` is listed by the read under way; returns it, or nullptr if unknown.
    const TrackedSocket* note_in_map(uint64_t key);
    // note_in_map(key) or find(key) comes soon: see SocketSlots::prefetch().
    void prefetch(uint64_t key) const { sockets_.prefetch(key); }
    // Whether the last read of the kernel's map listed `s`.
    bool in_last_map_read(const TrackedSocket& s) const {
        return map_read_ && s.map_read == map_read_;
    }
    // Calls `visit` with every tracked socket, in no particular order.
    template <typename Visit>
    void for_each(Visit&& visit) const {
        for (const TrackedSocket& s : sockets_) visit(s);
    }
    size_t size() const { return sockets_.size(); }
    // The key given to the last socket added by add_before_start() or add_untraced().
    uint64_t last_key() const { return next_before_start_key_ - 1; }

  private:
    static constexpr uint8_t kSweepsToDrop = 2;

    void erase(uint64_t key);
    // The key of the socket tracked with this flow (at most one is indexed), or nullopt.
    std::optional<uint64_t> key_of(const cw_flow& flow) const;
    // An untraced socket known by its flow; false when the flow is known already.
    bool add_flow(const cw_flow& flow, uint64_t ino, uint64_t seen_ns, bool before_start);
    // A new untraced socket under the next small key (not indexed by flow); returns the key.
    uint64_t insert_untraced(const cw_flow& flow, uint64_t ino, uint64_t seen_ns,
                             bool before_start);

    SocketSlots sockets_;
    // Flow index: FlowHash of the flow -> key (its socket holds the flow to compare): half the
    // memory of a map keyed by the 40-byte flow.
    std::unordered_multimap<size_t, uint64_t> by_flow_;
    uint64_t next_before_start_key_ = 1;  // kernel addresses are never this small
    uint32_t map_read_ = 0;               // reads of the kernel's map begun
};

}  // namespace cwtrace
