// The offsets come from runtime/runtime2.go of each release (64-bit); 1.19's were checked
// against the DWARF of a binary Debian's go 1.19 built. What moves them: 1.21 put parentGoid
// before gopc; 1.22 moved the execution tracer's fields (sysexitticks, traceseq, tracelastp) to
// the end of g; 1.23 added syscallbp before goid.
#include "golang/go_offsets.h"

#include <charconv>

namespace cwtrace {
namespace {

struct Row {
    int minor;
    GoOffsets offsets;
};

constexpr Row kTable[] = {
    {17, {152, 296, 304}}, {18, {152, 296, 304}}, {19, {152, 296, 304}}, {20, {152, 296, 304}},
    {21, {152, 304, 312}}, {22, {152, 280, 288}}, {23, {160, 288, 296}},
};

std::optional<int> leading_number(std::string_view& text) {
    int value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end == text.data()) return std::nullopt;
    text.remove_prefix(static_cast<size_t>(end - text.data()));
    return value;
}

}  // namespace

std::optional<GoVersion> parse_go_version(std::string_view text) {
    if (!text.starts_with("go")) return std::nullopt;
    text.remove_prefix(2);
    auto major = leading_number(text);
    if (!major || !text.starts_with('.')) return std::nullopt;
    text.remove_prefix(1);
    auto minor = leading_number(text);
    if (!minor) return std::nullopt;
    return GoVersion{*major, *minor};
}

std::optional<GoOffsets> go_offsets_for(GoVersion version) {
    if (version.major != 1) return std::nullopt;
    for (const Row& row : kTable)
        if (row.minor == version.minor) return row.offsets;
    return std::nullopt;
}

}  // namespace cwtrace
