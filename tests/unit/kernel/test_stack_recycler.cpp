// kernel/stack_recycler: which stacks may go, and which recorded threads a deletion makes lost.
#include <gtest/gtest.h>

#include "kernel/stack_recycler.h"

namespace cwtrace {
namespace {

TEST(StackRecycler, OnlyStacksNothingNamesGo) {
    const std::vector<int32_t> present = {0, 3, 7, 12, 40};
    const std::unordered_set<int32_t> referenced = {3, 40, -14, 99};  // -errno, gone: harmless
    EXPECT_EQ(unreferenced_ids(present, referenced), (std::vector<int32_t>{0, 7, 12}));
    EXPECT_TRUE(unreferenced_ids(present, {0, 3, 7, 12, 40}).empty());
}

// A deleted id may be given to another stack: a thread captured up to its deletion that names
// it is lost; one captured after names the new stack.
TEST(StackRecycler, AThreadCapturedBeforeItsStackWasDeletedIsStale) {
    StackIdLedger ledger;
    EXPECT_FALSE(ledger.stale(7, 100));  // never deleted
    ledger.deleted(7, 1'000);
    EXPECT_TRUE(ledger.stale(7, 100));
    EXPECT_TRUE(ledger.stale(7, 1'000));
    EXPECT_FALSE(ledger.stale(7, 1'001));
    EXPECT_FALSE(ledger.stale(8, 100));
    EXPECT_FALSE(ledger.stale(-14, 100));  // no id: nothing to judge
    ledger.deleted(7, 5'000);              // taken and deleted again
    EXPECT_TRUE(ledger.stale(7, 2'000));
    EXPECT_FALSE(ledger.stale(7, 6'000));
}

// Frame-pointer memos name stack ids and answer only in the generation they were made in:
// every deletion starts a new one (here no map is open: the deletions fail, the bump is the same).
TEST(StackRecycler, EveryDeletionStartsANewMemoGeneration) {
    uint32_t generation = 41;
    StackMaps maps;
    maps.generation = &generation;
    EXPECT_EQ(delete_stacks(maps, {3, 7}), 0u);
    EXPECT_EQ(generation, 42u);
    delete_stacks(maps, {3});
    EXPECT_EQ(generation, 43u);
    maps.generation = nullptr;  // no programs mapped: nothing to bump
    delete_stacks(maps, {3});
    EXPECT_EQ(generation, 43u);
}

// The ledger's time for the last deletions reaches the programs (an accept() answered by a memo
// of the new generation is no earlier), and only with the programs mapped.
TEST(StackRecycler, TheDeletionTimeIsTheLedgers) {
    __u64 generation_ns = 0;
    StackMaps maps;
    publish_deletion_time(maps, 5'000);  // nothing mapped: nothing written
    maps.generation_ns = &generation_ns;
    publish_deletion_time(maps, 7'000);
    EXPECT_EQ(generation_ns, 7'000u);
    StackIdLedger ledger;
    ledger.deleted(3, 7'000);
    EXPECT_FALSE(ledger.stale(3, generation_ns + 1));  // what such an accept() says
    EXPECT_TRUE(ledger.stale(3, generation_ns));
}

}  // namespace
}  // namespace cwtrace
