#include "kernel/quick_rings.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace cwtrace {

namespace {

// What all the rings may take together: 4096 slots a ring up to 15 CPUs (1.1 MB at 2), 512 at
// 64, 256 from 128 on (a little over the budget then).
constexpr size_t kBudgetBytes = 8u << 20;
constexpr uint32_t kMinSlots = 256;

}  // namespace

uint32_t quick_ring_slots(uint32_t cpus) {
    const size_t per_ring =
        kBudgetBytes / std::max<uint32_t>(cpus, 1) / sizeof(cw_event_leave_quick);
    const uint32_t slots =
        std::bit_floor(static_cast<uint32_t>(std::min<size_t>(per_ring, CW_QUICK_RING_MAX_SLOTS)));
    return std::max(slots, kMinSlots);
}

size_t quick_ring_bytes(uint32_t slots) {
    static_assert(sizeof(cw_quick_ring) % 8 == 0 && sizeof(cw_event_leave_quick) % 8 == 0,
                  "array elements are not padded");
    return sizeof(cw_quick_ring) + size_t{slots} * sizeof(cw_event_leave_quick);
}

QuickRings::QuickRings(std::span<std::byte> area, uint32_t rings, uint32_t slots)
    : area_(area),
      // An area too small for them holds none: nothing is read.
      rings_(slots && area.size() >= rings * quick_ring_bytes(slots) ? rings : 0),
      slots_(slots),
      stride_(quick_ring_bytes(slots)) {}

cw_quick_ring* QuickRings::ring(uint32_t i) const {
    return reinterpret_cast<cw_quick_ring*>(area_.data() + i * stride_);
}

size_t QuickRings::consume(uint64_t until_ns, const Handler& handler) {
    size_t handed = 0;
    fullest_ = 0;
    for (uint32_t i = 0; i < rings_; ++i) {
        cw_quick_ring* r = ring(i);
        // The head after the records it shows (the kernel writes them first).
        const uint64_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
        uint64_t tail = r->tail;
        if (head - tail > slots_) {
            ++corrupt_;
            __atomic_store_n(&r->tail, head, __ATOMIC_RELEASE);
            continue;
        }
        fullest_ = std::max(fullest_, head - tail);
        const auto* slots = reinterpret_cast<const std::byte*>(r + 1);
        const uint64_t first = tail;
        for (; tail != head; ++tail) {
            cw_event_leave_quick record;
            std::memcpy(&record, slots + (tail & (slots_ - 1)) * sizeof record, sizeof record);
            if (record.hdr.ts_ns > until_ns) break;
            handler({reinterpret_cast<const std::byte*>(&record), sizeof record});
            ++handed;
        }
        // The slots read are the kernel's again. Written only when it moved: the program reads
        // that cache line at every record.
        if (tail != first) __atomic_store_n(&r->tail, tail, __ATOMIC_RELEASE);
    }
    handed_ += handed;
    return handed;
}

}  // namespace cwtrace
