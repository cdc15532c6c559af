// Log2 histogram of durations, the way bcc's tools print them: bucket i holds durations d with
// 2^i <= d/1us < 2^(i+1) (bucket 0 also holds everything under 1 us). Fixed size, so memory stays
// flat however many sockets are folded in.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace cwtrace {

class Log2Histogram {
  public:
    // 2^40 us is ~12.7 days; the last bucket also takes anything longer.
    static constexpr std::size_t kBuckets = 41;

    void add(double seconds);
    void merge(const Log2Histogram& other);

    uint64_t count() const { return count_; }
    double sum_seconds() const { return sum_seconds_; }
    const std::array<uint64_t, kBuckets>& buckets() const { return buckets_; }

    // Bucket i covers [lower_seconds(i), upper_seconds(i)); the last one is open-ended.
    static double lower_seconds(std::size_t i);
    static double upper_seconds(std::size_t i);
    static std::size_t bucket_of(double seconds);

    // Index range [first, last] of the non-empty buckets; first > last when empty.
    std::size_t first_used() const;
    std::size_t last_used() const;

  private:
    std::array<uint64_t, kBuckets> buckets_{};
    uint64_t count_ = 0;
    double sum_seconds_ = 0;
};

// "0us", "1us", "512us", "1ms", "2s", "1m", "1h": bucket bounds for people.
std::string format_bucket_bound(double seconds);

}  // namespace cwtrace
