// Bounds-checked reads of a Go table's bytes, shared by its readers (go_pclntab*.cpp).
#pragma once

#include <cstdint>
#include <vector>

namespace cwtrace {

inline bool fits(uint64_t off, uint64_t len, uint64_t size) {
    return off <= size && len <= size - off;
}

// The `size`-byte word at `off` in the target's byte order; 0 past the end.
uint64_t load_word(const std::vector<uint8_t>& bytes, uint64_t off, unsigned size, bool big_endian);

}  // namespace cwtrace
