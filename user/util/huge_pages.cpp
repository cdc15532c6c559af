#include "util/huge_pages.h"

#include <sys/mman.h>

#include <cstdint>

namespace cwtrace {

void advise_huge_pages(const void* data, size_t bytes) {
    constexpr uintptr_t kHuge = uintptr_t{2} << 20;
    const auto begin = reinterpret_cast<uintptr_t>(data);
    // Only whole huge pages inside the range: the advice must not reach memory around it.
    const uintptr_t first = (begin + kHuge - 1) & ~(kHuge - 1);
    const uintptr_t last = (begin + bytes) & ~(kHuge - 1);
    if (!data || last <= first) return;
    // Advice only: where THP is off or the range cannot take it, nothing changes.
    madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
}

}  // namespace cwtrace
