// CPython 3.11+'s location table (co_linetable, described in CPython's Objects/locations.md):
// instruction offset -> source line. Pure, bounds-checked: the bytes come from another process.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace cwtrace {

// The line of the instruction at byte offset `offset` of a code object whose first line is
// `first_line`; nullopt when the table gives that instruction no line or ends before it.
std::optional<int> python_line_at(std::span<const uint8_t> table, int first_line, uint32_t offset);

}  // namespace cwtrace
