#include "util/fields.h"

#include <algorithm>
#include <charconv>

namespace cwtrace {

std::string_view next_line(std::string_view& rest) {
    const size_t eol = std::min(rest.find('\n'), rest.size());
    std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(std::min(eol + 1, rest.size()));
    return line;
}

std::string_view next_field(std::string_view& rest) {
    size_t begin = rest.find_first_not_of(kFieldBlanks);
    if (begin == std::string_view::npos) {
        rest = {};
        return {};
    }
    rest.remove_prefix(begin);
    size_t end = std::min(rest.find_first_of(kFieldBlanks), rest.size());
    std::string_view field = rest.substr(0, end);
    rest.remove_prefix(end);
    return field;
}

std::optional<uint64_t> parse_hex(std::string_view s) {
    uint64_t value = 0;
    const char* last = s.data() + s.size();
    auto [ptr, ec] = std::from_chars(s.data(), last, value, 16);
    if (s.empty() || ec != std::errc{} || ptr != last) return std::nullopt;
    return value;
}

}  // namespace cwtrace
