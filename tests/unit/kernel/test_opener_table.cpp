#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "kernel/opener_table.h"

using namespace cwtrace;

namespace {

// A table laid out as the kernel's mapped array holds it, written as its programs write it.
class Table {
  public:
    explicit Table(uint32_t buckets) : buckets_(buckets) {}

    std::span<const std::byte> area() const {
        return {reinterpret_cast<const std::byte*>(buckets_.data()),
                buckets_.size() * sizeof(cw_opener_bucket)};
    }
    // An entry written whole at bucket `b`, way `way`: the key last.
    void put(uint32_t b, int way, uint64_t sk, uint32_t pid) {
        cw_opener_bucket& bucket = buckets_[b];
        bucket.keys[way] = sk | CW_OPENER_WRITING;
        ++bucket.generations[way];
        bucket.entries[way] = {};
        bucket.entries[way].origin.pid = pid;
        bucket.keys[way] = sk;
    }
    cw_opener_bucket& bucket(uint32_t b) { return buckets_[b]; }

  private:
    std::vector<cw_opener_bucket> buckets_;
};

std::map<uint64_t, uint32_t> pids_by_sk(const OpenerTable& table) {
    std::map<uint64_t, uint32_t> out;
    table.for_each([&](uint64_t sk, const cw_origin_entry& e) {
        EXPECT_TRUE(out.emplace(sk, e.origin.pid).second) << "visited twice: " << sk;
    });
    return out;
}

}  // namespace

TEST(OpenerTable, VisitsEveryEntryWrittenWholeWithItsKey) {
    Table t(3);
    t.put(0, 0, 0xffff888100001000, 10);
    t.put(0, 6, 0xffff888100002000, 20);
    t.put(2, 3, 0xffff888100003000, 30);
    const OpenerTable table(t.area(), 3);
    EXPECT_EQ(table.buckets(), 3u);
    const std::map<uint64_t, uint32_t> want = {
        {0xffff888100001000, 10}, {0xffff888100002000, 20}, {0xffff888100003000, 30}};
    EXPECT_EQ(pids_by_sk(table), want);
}

// A claimed way whose entry is still being written (its key's low bit set), and a freed one
// (key 0, its old entry still there), are passed over.
TEST(OpenerTable, PassesOverWaysBeingWrittenAndFreed) {
    Table t(1);
    t.put(0, 0, 0xffff888100001000, 10);
    t.put(0, 1, 0xffff888100002000, 20);
    t.put(0, 2, 0xffff888100003000, 30);
    t.bucket(0).keys[1] = 0xffff888100002000 | CW_OPENER_WRITING;
    t.bucket(0).keys[2] = 0;
    const OpenerTable table(t.area(), 1);
    const std::map<uint64_t, uint32_t> want = {{0xffff888100001000, 10}};
    EXPECT_EQ(pids_by_sk(table), want);
}

TEST(OpenerTable, AnAreaTooSmallForItsBucketsIsNotRead) {
    Table t(2);
    t.put(0, 0, 0xffff888100001000, 10);
    const OpenerTable table(t.area().first(sizeof(cw_opener_bucket) + 8), 2);
    EXPECT_EQ(table.buckets(), 0u);
    EXPECT_TRUE(pids_by_sk(table).empty());
}

TEST(OpenerTable, CensusCountsKeysInUseAndTheSpilledCounts) {
    Table t(2);
    t.put(0, 0, 0xffff888100001000, 10);
    t.put(1, 4, 0xffff888100002000, 20);
    t.bucket(1).keys[5] = 0xffff888100003000 | CW_OPENER_WRITING;  // claimed: in use
    t.bucket(0).spilled = 1;
    const OpenerTable::Census held = OpenerTable(t.area(), 2).census();
    EXPECT_EQ(held.entries, 3u);
    EXPECT_EQ(held.spilled, 1u);
}

// The reader is told each key kAheadBuckets buckets before its visit (the first buckets' keys
// before any visit), once, and never a key being written.
TEST(OpenerTable, TellsEachKeyAheadOfItsVisit) {
    constexpr uint32_t kBuckets = 6;
    Table t(kBuckets);
    for (uint32_t b = 0; b < kBuckets; ++b) t.put(b, static_cast<int>(b % 3), 0x1000 * (b + 1), b);
    t.bucket(4).keys[2] = 0x9000 | CW_OPENER_WRITING;  // claimed, not written yet
    const OpenerTable table(t.area(), kBuckets);
    std::vector<uint64_t> told, visited;
    std::map<uint64_t, size_t> told_at;  // key -> visits made before it was told
    table.for_each([&](uint64_t sk, const cw_origin_entry&) { visited.push_back(sk); },
                   [&](uint64_t sk) {
                       told.push_back(sk);
                       told_at.emplace(sk, visited.size());
                   });
    ASSERT_EQ(visited.size(), kBuckets);
    EXPECT_EQ(told, visited);  // each once, in the visits' order
    for (size_t i = 0; i < visited.size(); ++i) {
        const size_t ahead = std::min<size_t>(i, OpenerTable::kAheadBuckets);
        EXPECT_EQ(told_at[visited[i]], i - ahead) << "bucket " << i;
    }
}
