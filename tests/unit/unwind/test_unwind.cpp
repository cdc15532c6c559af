// The dwarf unwinder on a recorded stack: this test records its own registers and stack the
// way the BPF side does at connect(), three functions deep, and unwinds the copy. The test is
// built -O2 without frame pointers, so only the CFI can find the callers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "recorded_stack.h"
#include "unwind/unwind_dwarf.h"
#include "unwind/unwind_memo.h"

using cwtrace::unwind_test::Recorded;

#if defined(__x86_64__)
// Where the stack is recorded, like the syscall instruction in libc's connect().
extern "C" __attribute__((noinline)) void cw_unwind_record(Recorded* out) {
    cwtrace::unwind_test::record_here(out);
}

// Work after each call keeps it a call (no tail call), as in the fixture programs.
extern "C" __attribute__((noinline)) int cw_unwind_inner(Recorded* out) {
    cw_unwind_record(out);
    asm volatile("" ::: "memory");
    return static_cast<int>(out->copy.size());
}

extern "C" __attribute__((noinline)) int cw_unwind_outer(Recorded* out) {
    int n = cw_unwind_inner(out);
    asm volatile("" ::: "memory");
    return n + 1;
}

namespace cwtrace {
namespace {

// A stack recorded three functions deep, and this process's mappings to unwind it with.
class DwarfUnwindTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_GT(cw_unwind_outer(&rec), 0);
        rec.sample.stack = rec.copy;
        maps = ProcessMaps::read(getpid());
        ASSERT_TRUE(maps);
    }

    // The recording again, with a stack of its own to change.
    Recorded changeable() const {
        Recorded copy = rec;
        copy.sample.stack = copy.copy;
        return copy;
    }

    Recorded rec;
    std::optional<ProcessMaps> maps;
};

uint64_t word_at(const Recorded& r, size_t offset) {
    uint64_t word;
    std::memcpy(&word, r.copy.data() + offset, sizeof word);
    return word;
}

void set_word(Recorded& r, size_t offset, uint64_t word) {
    std::memcpy(r.copy.data() + offset, &word, sizeof word);
}

std::vector<std::string> names(const ProcessMaps& maps, const std::vector<uint64_t>& ips) {
    UserSymbolizer symbolizer;
    std::vector<std::string> out;
    for (size_t i = 0; i < ips.size(); ++i)
        out.push_back(symbolizer.symbolize(maps, i == 0 ? ips[i] : ips[i] - 1).function);
    return out;
}

TEST_F(DwarfUnwindTest, UnwindsARecordedStackThroughItsCallers) {
    DwarfUnwinder unwinder;
    auto ips = unwinder.unwind({static_cast<uint32_t>(getpid()), 1}, *maps, rec.sample, 64);
    auto got = names(*maps, ips);
    ASSERT_GE(got.size(), 3u);
    EXPECT_EQ(got[0], "cw_unwind_record");
    EXPECT_EQ(got[1], "cw_unwind_inner");
    EXPECT_EQ(got[2], "cw_unwind_outer");
    EXPECT_EQ(unwinder.stats().unwinds, 1u);

    // The same registers and stack again: answered from the memo, with the same frames.
    auto again = unwinder.unwind({static_cast<uint32_t>(getpid()), 1}, *maps, rec.sample, 64);
    EXPECT_EQ(again, ips);
    EXPECT_EQ(unwinder.stats().memo_hits, 1u);
    EXPECT_EQ(unwinder.stats().unwinds, 1u);

    // A different return address in the copy is a different stack: unwound, not memoized.
    Recorded changed = changeable();
    bool patched = false;
    for (size_t off = 0; off + 8 <= changed.copy.size() && !patched; off += 8) {
        if (word_at(changed, off) == ips[1]) {
            set_word(changed, off, 0);
            patched = true;
        }
    }
    ASSERT_TRUE(patched) << "the return address into cw_unwind_inner is in the copy";
    auto truncated =
        unwinder.unwind({static_cast<uint32_t>(getpid()), 1}, *maps, changed.sample, 64);
    EXPECT_EQ(unwinder.stats().unwinds, 2u);
    EXPECT_LT(truncated.size(), 2u);
}

// What the unwind read is what the kernel's memo compares: every word of it is the copy's word
// at that offset, the return address into cw_unwind_inner among them; a memoized answer reports
// the same reads as the unwind it came from.
TEST_F(DwarfUnwindTest, TheKernelMemoHoldsTheWordsTheUnwindRead) {
    DwarfUnwinder unwinder;
    std::vector<StackRead> reads, again_reads;
    auto ips = unwinder.unwind({1, 1}, *maps, rec.sample, 64, &reads);
    ASSERT_GE(ips.size(), 3u);
    ASSERT_FALSE(reads.empty());
    unwinder.unwind({1, 1}, *maps, rec.sample, 64, &again_reads);
    EXPECT_EQ(unwinder.stats().memo_hits, 1u);
    EXPECT_EQ(again_reads, reads);

    cw_event_user_stack head = {};
    head.pid = 7;
    head.ip = rec.sample.ip;
    head.sp = rec.sample.sp;
    head.bp = rec.sample.bp;
    head.mm = 0x1000;
    head.task_start_ns = 99;
    head.stack_bytes = static_cast<uint32_t>(rec.copy.size());
    // Copies of up to the bytes this one has: what the unwind read past the stack's top is
    // outside every copy.
    auto memo = kernel_unwind_memo(head, reads, 5, head.stack_bytes);
    ASSERT_TRUE(memo);
    EXPECT_EQ(memo->key.pid, 7u);
    EXPECT_EQ(memo->key.sp, rec.sample.sp);
    EXPECT_EQ(memo->memo.mm, 0x1000u);
    EXPECT_EQ(memo->memo.unwound_id, 5u);
    ASSERT_GT(memo->memo.words, 0u);
    bool has_return_address = false;
    for (size_t i = 0; i < memo->memo.words; ++i) {
        const uint16_t offset = memo->memo.offsets[i];
        ASSERT_LE(offset + 8u, memo->memo.span);
        const uint64_t word = word_at(rec, offset);
        EXPECT_EQ(memo->memo.values[i], word) << "offset " << offset;
        has_return_address |= word == ips[1];
    }
    EXPECT_TRUE(has_return_address);

    // The frames follow from those words alone: every other word of the copy changed, a fresh
    // unwinder finds the same frames.
    Recorded changed = changeable();
    for (size_t off = 0; off + 8 <= changed.copy.size(); off += 8) {
        const bool depended = std::any_of(reads.begin(), reads.end(), [&](const StackRead& r) {
            return r.offset == static_cast<int64_t>(off);
        });
        if (!depended) set_word(changed, off, ~word_at(changed, off));
    }
    DwarfUnwinder fresh;
    EXPECT_EQ(fresh.unwind({1, 1}, *maps, changed.sample, 64), ips);
}

TEST_F(DwarfUnwindTest, StopsAtMaxFramesAndAtTheEndOfTheCopy) {
    DwarfUnwinder unwinder;
    EXPECT_EQ(unwinder.unwind({1, 1}, *maps, rec.sample, 2).size(), 2u);
    // No stack copied: the first frame only, from the registers.
    StackSample empty = rec.sample;
    empty.stack = {};
    EXPECT_EQ(unwinder.unwind({1, 1}, *maps, empty, 64).size(), 1u);
}

}  // namespace
}  // namespace cwtrace
#endif
