#include <gtest/gtest.h>

#include <cmath>

#include "util/histogram.h"

namespace cwtrace {
namespace {

TEST(Log2Histogram, BucketsArePowersOfTwoOfMicroseconds) {
    EXPECT_EQ(Log2Histogram::bucket_of(0), 0u);
    EXPECT_EQ(Log2Histogram::bucket_of(0.5e-6), 0u);
    EXPECT_EQ(Log2Histogram::bucket_of(1e-6), 0u);
    EXPECT_EQ(Log2Histogram::bucket_of(2e-6), 1u);
    EXPECT_EQ(Log2Histogram::bucket_of(3.9e-6), 1u);
    EXPECT_EQ(Log2Histogram::bucket_of(4e-6), 2u);
    EXPECT_EQ(Log2Histogram::bucket_of(1.0), 19u);   // 2^19 us = 0.524 s <= 1 s < 2^20 us
    EXPECT_EQ(Log2Histogram::bucket_of(90.0), 26u);  // 2^26 us = 67 s
    EXPECT_EQ(Log2Histogram::bucket_of(-1), 0u);
    EXPECT_EQ(Log2Histogram::bucket_of(NAN), 0u);
    EXPECT_EQ(Log2Histogram::bucket_of(1e12), Log2Histogram::kBuckets - 1);
}

TEST(Log2Histogram, EveryDurationFallsInsideItsBucketBounds) {
    for (double s : {0.0, 1e-7, 1e-6, 1.5e-6, 7e-5, 0.001, 0.25, 1.0, 5.0, 61.0, 3600.0, 86400.0}) {
        std::size_t i = Log2Histogram::bucket_of(s);
        EXPECT_LE(Log2Histogram::lower_seconds(i), s) << s;
        EXPECT_LT(s, Log2Histogram::upper_seconds(i)) << s;
    }
    EXPECT_TRUE(std::isinf(Log2Histogram::upper_seconds(Log2Histogram::kBuckets - 1)));
}

TEST(Log2Histogram, CountsSumsAndMerges) {
    Log2Histogram healthy, leaky;
    for (int i = 0; i < 100; ++i) healthy.add(30e-6);  // sub-millisecond closes
    leaky.add(5.0);
    leaky.add(6.0);
    EXPECT_EQ(healthy.count(), 100u);
    EXPECT_EQ(healthy.buckets()[4], 100u);  // 16..32 us
    EXPECT_EQ(healthy.first_used(), 4u);
    EXPECT_EQ(healthy.last_used(), 4u);
    EXPECT_DOUBLE_EQ(leaky.sum_seconds(), 11.0);
    EXPECT_EQ(leaky.buckets()[22], 2u);  // 4.19 s .. 8.39 s

    healthy.merge(leaky);
    EXPECT_EQ(healthy.count(), 102u);
    EXPECT_EQ(healthy.first_used(), 4u);
    EXPECT_EQ(healthy.last_used(), 22u);
    EXPECT_NEAR(healthy.sum_seconds(), 11.0 + 100 * 30e-6, 1e-9);

    Log2Histogram empty;
    EXPECT_GT(empty.first_used(), empty.last_used());
}

TEST(Log2Histogram, BoundsReadLikeBcc) {
    EXPECT_EQ(format_bucket_bound(0), "0us");
    EXPECT_EQ(format_bucket_bound(1e-6), "1us");
    EXPECT_EQ(format_bucket_bound(512e-6), "512us");
    EXPECT_EQ(format_bucket_bound(Log2Histogram::lower_seconds(10)), "1.02ms");
    EXPECT_EQ(format_bucket_bound(2.0), "2s");
    EXPECT_EQ(format_bucket_bound(120.0), "2m");
    EXPECT_EQ(format_bucket_bound(INFINITY), "inf");
}

}  // namespace
}  // namespace cwtrace
