// Dwarf mode's unwind memo in the kernel (struct cw_unwind_memo): after an opening's stack copy
// is unwound, the kernel side is told which stack words that unwind read and what they held. A
// later opening of the same process with the same registers and the same values there unwinds
// to the same frames, so the kernel records the unwound stack's id instead of copying 8 KiB.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "cwtrace/abi.h"
#include "unwind/unwind_dwarf.h"

namespace cwtrace {

struct KernelUnwindMemo {
    cw_unwind_memo_key key;
    cw_unwind_memo memo;
};

// The memo of the unwind of `copy` that read `reads` and gave the stack `unwound_id`, or nullopt
// when the kernel could not check what that unwind depended on: a word missing only because
// this copy was short (a later copy of up to `copy_limit` bytes might hold it), a word not
// 8-byte aligned, or more words than a memo holds. Words outside every copy (below sp, at or
// past `copy_limit`) are missing whatever the stack holds: nothing to compare.
std::optional<KernelUnwindMemo> kernel_unwind_memo(const cw_event_user_stack& copy,
                                                   std::span<const StackRead> reads,
                                                   uint32_t unwound_id, uint32_t copy_limit);

}  // namespace cwtrace
