// The dwarf unwinder's memo on code built with frame pointers (as Fedora's and Ubuntu 24.04's
// packages are): there the next frame is found through a saved rbp, so a saved word matters,
// and the memo must still leave out the words that do not (a callee-saved register holding a
// value that changes from call to call), or no later opening would match it: each would send
// the kernel a stack copy. This file is built -O2 with frame pointers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "recorded_stack.h"
#include "unwind/unwind_dwarf.h"

using cwtrace::unwind_test::Recorded;

#if defined(__x86_64__)
extern "C" __attribute__((noinline)) void cw_fp_record(Recorded* out) {
    cwtrace::unwind_test::record_here(out);
}

// Keeps `out` in a callee-saved register across its call, so its prologue saves the caller's
// value of that register (cw_fp_outer's `tag`) in its frame.
extern "C" __attribute__((noinline)) int cw_fp_middle(Recorded* out) {
    cw_fp_record(out);
    asm volatile("" ::"r"(out) : "memory");
    return static_cast<int>(out->copy.size());
}

// `tag` lives in a callee-saved register across the call: a word of cw_fp_middle's frame the
// unwind reads (to restore the register) that no frame depends on.
extern "C" __attribute__((noinline)) int cw_fp_outer(Recorded* out, uint64_t tag) {
    int n = cw_fp_middle(out);
    asm volatile("" ::"r"(tag) : "memory");
    return n + static_cast<int>(tag & 1);
}

namespace cwtrace {
namespace {

std::optional<uint64_t> word_at(const Recorded& r, int64_t offset) {
    if (offset < 0 || static_cast<size_t>(offset) + 8 > r.copy.size()) return std::nullopt;
    uint64_t word;
    std::memcpy(&word, r.copy.data() + offset, sizeof word);
    return word;
}

bool holds_tag(const Recorded& r, uint64_t tag) {
    for (size_t off = 0; off + 8 <= r.copy.size(); off += 8)
        if (word_at(r, static_cast<int64_t>(off)) == tag) return true;
    return false;
}

TEST(DwarfUnwindFramePointers, TheMemoKeepsTheSavedFramePointerAndLeavesOutASavedCounter) {
    constexpr uint64_t kFirst = 0x1111222233334440ULL, kSecond = 0x5555666677778880ULL;
    Recorded recorded[2], into;
    const uint64_t tags[2] = {kFirst, kSecond};
    // From one call site into one object: the same registers, frames and pointers, stacks that
    // differ in the saved tag.
    for (int i = 0; i < 2; ++i) {
        ASSERT_GT(cw_fp_outer(&into, tags[i]), 0);
        recorded[i] = into;
        recorded[i].sample.stack = recorded[i].copy;
    }
    const Recorded& first = recorded[0];
    const Recorded& second = recorded[1];
    ASSERT_EQ(first.sample.sp, second.sample.sp);
    ASSERT_EQ(first.sample.bp, second.sample.bp);
    ASSERT_TRUE(holds_tag(first, kFirst)) << "the tag is saved in cw_fp_middle's frame";
    ASSERT_TRUE(holds_tag(second, kSecond));
    auto maps = ProcessMaps::read(getpid());
    ASSERT_TRUE(maps);

    DwarfUnwinder unwinder;
    std::vector<StackRead> depends_on;
    auto ips = unwinder.unwind({1, 1}, *maps, first.sample, 64, &depends_on);
    ASSERT_GE(ips.size(), 3u);
    UserSymbolizer symbolizer;
    EXPECT_EQ(symbolizer.symbolize(*maps, ips[1] - 1).function, "cw_fp_middle");
    EXPECT_EQ(symbolizer.symbolize(*maps, ips[2] - 1).function, "cw_fp_outer");

    // The saved rbp cw_fp_record's frame holds (at bp) is how the unwind found the next frame.
    const auto at_bp = static_cast<int64_t>(first.sample.bp - first.sample.sp);
    EXPECT_TRUE(std::any_of(depends_on.begin(), depends_on.end(),
                            [&](const StackRead& r) { return r.offset == at_bp; }));
    // The tag is not depended on: the kernel's memo of the first opening holds in the second.
    for (const StackRead& r : depends_on) {
        EXPECT_NE(r.value, kFirst) << "offset " << r.offset;
        if (r.value) {
            EXPECT_EQ(word_at(second, r.offset), r.value) << "offset " << r.offset;
        }
    }
    DwarfUnwinder fresh;
    EXPECT_EQ(fresh.unwind({1, 1}, *maps, second.sample, 64), ips);
}

}  // namespace
}  // namespace cwtrace
#endif
