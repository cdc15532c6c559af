#include "unwind/unwind_memo.h"

#include <algorithm>
#include <vector>

namespace cwtrace {

std::optional<KernelUnwindMemo> kernel_unwind_memo(const cw_event_user_stack& copy,
                                                   std::span<const StackRead> reads,
                                                   uint32_t unwound_id, uint32_t copy_limit) {
    std::vector<std::pair<uint64_t, uint64_t>> words;  // offset, value
    for (const StackRead& r : reads) {
        const bool in_any_copy = r.offset >= 0 && static_cast<uint64_t>(r.offset) < copy_limit;
        if (!r.value) {
            if (in_any_copy) return std::nullopt;  // absent from this copy only
            continue;
        }
        if (!in_any_copy || r.offset % 8 != 0 ||
            static_cast<uint64_t>(r.offset) + 8 > CW_MAX_USER_STACK_BYTES)
            return std::nullopt;
        words.emplace_back(static_cast<uint64_t>(r.offset), *r.value);
    }
    std::sort(words.begin(), words.end());
    words.erase(std::unique(words.begin(), words.end()), words.end());
    if (words.size() > CW_UNWIND_MEMO_WORDS) return std::nullopt;

    KernelUnwindMemo out = {};
    out.key.pid = copy.pid;
    out.key.ip = copy.ip;
    out.key.sp = copy.sp;
    out.key.bp = copy.bp;
    out.memo.task_start_ns = copy.task_start_ns;
    out.memo.mm = copy.mm;
    out.memo.unwound_id = unwound_id;
    out.memo.words = static_cast<uint16_t>(words.size());
    out.memo.span = words.empty() ? 0 : static_cast<uint16_t>(words.back().first + 8);
    for (size_t i = 0; i < words.size(); ++i) {
        out.memo.offsets[i] = static_cast<uint16_t>(words[i].first);
        out.memo.values[i] = words[i].second;
    }
    return out;
}

}  // namespace cwtrace
