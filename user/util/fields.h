// Blank-separated fields of /proc-style text lines (kallsyms, /proc/PID/maps).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace cwtrace {

// What separates fields.
inline constexpr std::string_view kFieldBlanks = " \t\r";

// Splits off the next line (without its '\n'); empty at the end of the text.
std::string_view next_line(std::string_view& rest);

// Splits off the next field delimited by kFieldBlanks; empty once the line is exhausted.
std::string_view next_field(std::string_view& rest);

// A whole field as hexadecimal without a prefix; nullopt when empty or anything else is in it.
std::optional<uint64_t> parse_hex(std::string_view s);

}  // namespace cwtrace
