#include "kernel/opener_table.h"

#include <algorithm>
#include <atomic>
#include <cstring>

namespace cwtrace {

namespace {

static_assert(sizeof(cw_opener_bucket) == 1024, "a bucket's keys on a cache line of their own");

// The kernel writes these words while they are read.
template <typename T>
T load(const T& word) {
    return __atomic_load_n(&word, __ATOMIC_ACQUIRE);
}

// A way's key that names a socket: claimed (not 0) and not being written.
bool settled(uint64_t key) { return key && !(key & CW_OPENER_WRITING); }

// Bucket `b`'s way `way`, copied into `out` with its key when written whole (see the header).
bool copy_entry(const cw_opener_bucket& b, int way, uint64_t& key, cw_origin_entry& out) {
    const uint8_t generation = load(b.generations[way]);
    key = load(b.keys[way]);
    if (!settled(key)) return false;
    std::memcpy(&out, &b.entries[way], sizeof out);
    std::atomic_thread_fence(std::memory_order_acquire);
    return load(b.keys[way]) == key && load(b.generations[way]) == generation;
}

}  // namespace

OpenerTable::OpenerTable(std::span<const std::byte> area, uint32_t buckets)
    : area_(area), buckets_(area.size() / sizeof(cw_opener_bucket) >= buckets ? buckets : 0) {}

void OpenerTable::for_each(const Visit& visit, const Ahead& ahead) const {
    const auto* table = reinterpret_cast<const cw_opener_bucket*>(area_.data());
    const auto tell = [&](uint32_t b) {
        for (int way = 0; way < CW_OPENER_WAYS; ++way)
            if (const uint64_t key = load(table[b].keys[way]); settled(key)) ahead(key);
    };
    if (ahead)
        for (uint32_t b = 0; b < std::min(kAheadBuckets, buckets_); ++b) tell(b);
    for (uint32_t b = 0; b < buckets_; ++b) {
        if (ahead && b + kAheadBuckets < buckets_) tell(b + kAheadBuckets);
        for (int way = 0; way < CW_OPENER_WAYS; ++way) {
            uint64_t key;
            cw_origin_entry entry;
            if (copy_entry(table[b], way, key, entry)) visit(key, entry);
        }
    }
}

OpenerTable::Census OpenerTable::census() const {
    const auto* table = reinterpret_cast<const cw_opener_bucket*>(area_.data());
    Census out;
    for (uint32_t b = 0; b < buckets_; ++b) {
        for (int way = 0; way < CW_OPENER_WAYS; ++way)
            if (load(table[b].keys[way])) ++out.entries;
        out.spilled += load(table[b].spilled);
    }
    return out;
}

}  // namespace cwtrace
