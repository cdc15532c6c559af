// /proc-style text: read with a bound, split into lines and blank-separated fields (kallsyms,
// /proc/PID/maps).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cwtrace {

// What separates fields.
inline constexpr std::string_view kFieldBlanks = " \t\r";

// At most `max_bytes` of a procfs file, cut after its last whole line; `cut` tells whether there
// was more. procfs reports st_size 0, so the file is read to its end or the bound, the buffer
// growing with what came (a bound of megabytes costs nothing for a file of kilobytes). A symlink
// at `path` is not followed (nullopt).
std::optional<std::string> read_procfs_text(const std::string& path, size_t max_bytes, bool& cut);

// Splits off the next line (without its '\n'); empty at the end of the text.
std::string_view next_line(std::string_view& rest);

// Splits off the next field delimited by kFieldBlanks; empty once the line is exhausted.
std::string_view next_field(std::string_view& rest);

// A whole field as hexadecimal without a prefix; nullopt when empty or anything else is in it.
std::optional<uint64_t> parse_hex(std::string_view s);

}  // namespace cwtrace
