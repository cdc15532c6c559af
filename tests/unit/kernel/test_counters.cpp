// The report's Stats from the kernel's counters: every loss counted by cause and in the sum,
// and what is not a loss kept out of it.
#include <gtest/gtest.h>

#include "kernel/counters.h"

namespace cwtrace {
namespace {

KernelCounters counters() {
    KernelCounters k;
    k.counter[CW_CNT_RINGBUF_FULL] = 1;
    k.counter[CW_CNT_ORIGIN_MAP_FULL] = 10;
    k.counter[CW_CNT_USER_STACK_LOST] = 100;
    k.counter[CW_CNT_KERNEL_STACK_LOST] = 1'000;
    k.counter[CW_CNT_USER_STACK_COPY_LOST] = 10'000;
    k.counter[CW_CNT_ACCEPT_FD_UNRESOLVED] = 100'000;
    k.counter[CW_CNT_PY_STACK_LOST] = 1'000'000;
    k.counter[CW_CNT_PY_NO_THREAD] = 7;
    k.counter[CW_CNT_UNWIND_MEMO_HITS] = 9;
    k.recursion_misses = 10'000'000;
    return k;
}

TEST(StatsOf, EveryLossByCause) {
    const Stats s = stats_of(counters(), 42, 100'000'000);
    EXPECT_EQ(s.events, 42u);
    EXPECT_EQ(s.ringbuf_full, 1u);
    EXPECT_EQ(s.origin_map_full, 10u);
    EXPECT_EQ(s.stacks_lost, 11'100u);  // user, kernel and dwarf-copy stacks
    EXPECT_EQ(s.accept_unresolved, 100'000u);
    EXPECT_EQ(s.python_stacks_lost, 1'000'000u);
    EXPECT_EQ(s.recursion_misses, 10'000'000u);
    EXPECT_EQ(s.decode_errors, 100'000'000u);
    EXPECT_EQ(s.python_native_threads, 7u);
}

TEST(StatsOf, LostEventsSumsTheLossesOnly) {
    // Each cause a different power of ten: a cause counted twice or left out shows in the sum.
    // Threads without Python frames and memo hits are no loss.
    EXPECT_EQ(stats_of(counters(), 42, 100'000'000).lost_events, 111'111'111u);
    EXPECT_EQ(stats_of(KernelCounters{}, 5, 0).lost_events, 0u);
}

}  // namespace
}  // namespace cwtrace
