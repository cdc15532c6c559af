// Reads the kernel side's per-CPU rings of quick leaves (struct cw_quick_ring, cwtrace/abi.h)
// in the mapped array `quick_leaves`: each ring's records in the order its CPU wrote them, each
// handed on once, and the ring's tail moved past them so that the kernel reuses the slots.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "cwtrace/abi.h"

namespace cwtrace {

// Slots per ring for `cpus` rings: as many as fit a budget of a few MiB in all, a power of two
// from 256 to CW_QUICK_RING_MAX_SLOTS (4096 at 2 CPUs: ~130 ms of the heaviest churn per CPU).
uint32_t quick_ring_slots(uint32_t cpus);
// Bytes of one ring (an element of the array) with `slots` records.
size_t quick_ring_bytes(uint32_t slots);

class QuickRings {
  public:
    using Handler = std::function<void(std::span<const std::byte>)>;

    // `area`: the mapped array, `rings` elements of quick_ring_bytes(slots) each (none are read
    // from an area smaller than that).
    QuickRings(std::span<std::byte> area, uint32_t rings, uint32_t slots);

    // Hands on each record sent (its header's ts_ns) at or before `until_ns`, ring by ring; a
    // ring stops at its first later record, kept for a later call. Returns how many.
    size_t consume(uint64_t until_ns, const Handler& handler);

    // The most records one ring held at the last consume(): how soon to come back.
    uint64_t fullest() const { return fullest_; }
    uint32_t slots() const { return slots_; }
    uint32_t rings() const { return rings_; }
    uint64_t handed() const { return handed_; }  // records handed on in all
    // Rings found claiming more records than they have slots (not written by cwtrace's program):
    // their records were skipped.
    uint64_t corrupt() const { return corrupt_; }

  private:
    cw_quick_ring* ring(uint32_t i) const;

    std::span<std::byte> area_;
    uint32_t rings_;
    uint32_t slots_;
    size_t stride_;  // quick_ring_bytes(slots_)
    uint64_t fullest_ = 0;
    uint64_t corrupt_ = 0;
    uint64_t handed_ = 0;
};

}  // namespace cwtrace
