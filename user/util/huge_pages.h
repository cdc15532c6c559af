// Transparent huge pages for a large vector's room, asked for before it is written.
#pragma once

#include <cstddef>
#include <vector>

namespace cwtrace {

// Asks the kernel to back [data, data + bytes) with huge pages where it can (madvise
// MADV_HUGEPAGE; a no-op below 2 MiB or where THP is off). A report of a million sockets writes
// hundreds of MB of fresh memory: one fault per 4 KiB page was a third of its build on a VM.
void advise_huge_pages(const void* data, size_t bytes);

// The same for a vector's reserved room.
template <typename T>
void advise_huge_pages(const std::vector<T>& v) {
    advise_huge_pages(v.data(), v.capacity() * sizeof(T));
}

}  // namespace cwtrace
