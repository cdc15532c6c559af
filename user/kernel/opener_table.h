// Reads the kernel side's opener table (struct cw_opener_bucket, cwtrace/abi.h; written by
// bpf/openers.bpf.h) through its read-only mapping. The programs write it while it is read: an
// entry is taken only when its key and its way's generation read the same before and after the
// copy, so that an entry being written, or freed and claimed again meanwhile, is passed over
// (its socket's records say what the copy would have).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "cwtrace/abi.h"

namespace cwtrace {

class OpenerTable {
  public:
    using Visit = std::function<void(uint64_t sk, const cw_origin_entry& entry)>;
    // Told the keys a few buckets before they are visited, so that what the visit will look up
    // by key can be loaded meanwhile (the table's order is the kernel's hash, not the reader's).
    using Ahead = std::function<void(uint64_t sk)>;

    // `area`: the mapped array of `buckets` buckets (none are read from an area smaller than
    // that).
    OpenerTable(std::span<const std::byte> area, uint32_t buckets);

    // Calls `visit` with every entry written whole, bucket by bucket; `ahead`, when given, with
    // the keys of the bucket kAheadBuckets on before the bucket's own visits.
    void for_each(const Visit& visit, const Ahead& ahead = {}) const;
    static constexpr uint32_t kAheadBuckets = 2;

    // What the table holds now: entries, and how many of those are in their second bucket (the
    // buckets' own count of them). With every traced socket closed, both are 0: an entry left is
    // one whose delete the kernel skipped (a program run it did not make).
    struct Census {
        uint64_t entries = 0;
        uint64_t spilled = 0;
    };
    Census census() const;

    uint32_t buckets() const { return buckets_; }

  private:
    std::span<const std::byte> area_;
    uint32_t buckets_;
};

}  // namespace cwtrace
