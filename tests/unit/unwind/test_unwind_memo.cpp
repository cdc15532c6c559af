// What the kernel's unwind memo may compare (kernel_unwind_memo): the words an unwind read, as
// long as every later copy would hold them or lack them alike.
#include <gtest/gtest.h>

#include <vector>

#include "unwind/unwind_memo.h"

namespace cwtrace {
namespace {

cw_event_user_stack copy_of(uint32_t stack_bytes) {
    cw_event_user_stack head = {};
    head.pid = 42;
    head.tid = 43;
    head.ip = 0x401000;
    head.sp = 0x7ffd0000;
    head.bp = 0x7ffd0100;
    head.mm = 0xffff888000001000;
    head.task_start_ns = 1234;
    head.stack_bytes = stack_bytes;
    return head;
}

TEST(UnwindMemo, HoldsEachWordOnceInOffsetOrderAndTheSpanToRead) {
    const std::vector<StackRead> reads = {
        {24, 0x401234}, {8, 0x7ffd0100}, {24, 0x401234}, {520, 0x401777}};
    auto memo = kernel_unwind_memo(copy_of(8192), reads, 17, 8192);
    ASSERT_TRUE(memo);
    EXPECT_EQ(memo->key.pid, 42u);
    EXPECT_EQ(memo->key.ip, 0x401000u);
    EXPECT_EQ(memo->key.sp, 0x7ffd0000u);
    EXPECT_EQ(memo->key.bp, 0x7ffd0100u);
    EXPECT_EQ(memo->memo.task_start_ns, 1234u);
    EXPECT_EQ(memo->memo.mm, 0xffff888000001000u);
    EXPECT_EQ(memo->memo.unwound_id, 17u);
    ASSERT_EQ(memo->memo.words, 3u);
    EXPECT_EQ(memo->memo.offsets[0], 8u);
    EXPECT_EQ(memo->memo.values[0], 0x7ffd0100u);
    EXPECT_EQ(memo->memo.offsets[1], 24u);
    EXPECT_EQ(memo->memo.offsets[2], 520u);
    EXPECT_EQ(memo->memo.values[2], 0x401777u);
    EXPECT_EQ(memo->memo.span, 528u);
}

// A read past every copy (at or above the limit, or below sp) fails in any copy: the unwind
// stopped there and will again, so nothing to compare. An unwind that read nothing from the
// stack depends on the registers only.
TEST(UnwindMemo, ReadsOutsideEveryCopyNeedNoComparison) {
    const std::vector<StackRead> reads = {{16, 0x401234}, {8192, std::nullopt}, {-8, std::nullopt}};
    auto memo = kernel_unwind_memo(copy_of(8192), reads, 1, 8192);
    ASSERT_TRUE(memo);
    EXPECT_EQ(memo->memo.words, 1u);
    EXPECT_EQ(memo->memo.span, 24u);

    auto registers_only = kernel_unwind_memo(copy_of(8192), {}, 1, 8192);
    ASSERT_TRUE(registers_only);
    EXPECT_EQ(registers_only->memo.words, 0u);
    EXPECT_EQ(registers_only->memo.span, 0u);
}

// A word this copy lacked only because it was short (the stack's top was near) could be there
// in a later copy of the same registers, and the unwind would go on: no memo.
TEST(UnwindMemo, NoMemoWhenAWordWasMissingFromAShortCopyOnly) {
    const std::vector<StackRead> reads = {{16, 0x401234}, {1024, std::nullopt}};
    EXPECT_FALSE(kernel_unwind_memo(copy_of(1024), reads, 1, 8192));
    // With copies never longer than this one, the word is outside every copy.
    EXPECT_TRUE(kernel_unwind_memo(copy_of(1024), reads, 1, 1024));
}

TEST(UnwindMemo, NoMemoForUnalignedWordsOrMoreWordsThanItHolds) {
    const std::vector<StackRead> unaligned = {{12, 1}};
    EXPECT_FALSE(kernel_unwind_memo(copy_of(8192), unaligned, 1, 8192));
    std::vector<StackRead> many;
    for (int64_t i = 0; i <= CW_UNWIND_MEMO_WORDS; ++i) many.push_back({i * 8, uint64_t(i)});
    EXPECT_FALSE(kernel_unwind_memo(copy_of(8192), many, 1, 8192));
    many.pop_back();
    auto full = kernel_unwind_memo(copy_of(8192), many, 1, 8192);
    ASSERT_TRUE(full);
    EXPECT_EQ(full->memo.words, CW_UNWIND_MEMO_WORDS);
}

}  // namespace
}  // namespace cwtrace
