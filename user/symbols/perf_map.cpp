#include "symbols/perf_map.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

namespace cwtrace {
namespace {

// Overlapping entries considered at one address, newest wins; a bound, not a guarantee.
constexpr int kMaxOverlapScan = 16;

std::optional<uint64_t> hex_field(std::string_view& rest) {
    size_t begin = rest.find_first_not_of(" \t");
    if (begin == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(begin);
    if (rest.starts_with("0x") || rest.starts_with("0X")) rest.remove_prefix(2);
    uint64_t value = 0;
    auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value, 16);
    if (ec != std::errc{} || ptr == rest.data()) return std::nullopt;
    if (ptr != rest.data() + rest.size() && *ptr != ' ' && *ptr != '\t') return std::nullopt;
    rest.remove_prefix(static_cast<size_t>(ptr - rest.data()));
    return value;
}

}  // namespace

PerfMap PerfMap::parse(std::string_view text) {
    PerfMap map;
    size_t line_no = 0;
    while (!text.empty()) {
        size_t eol = std::min(text.find('\n'), text.size());
        std::string_view line = text.substr(0, eol);
        text.remove_prefix(std::min(eol + 1, text.size()));
        ++line_no;
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
        auto start = hex_field(line);
        auto size = hex_field(line);
        size_t name_begin = line.find_first_not_of(" \t");
        if (!start || !size || *size == 0 || name_begin == std::string_view::npos) continue;
        map.entries_.push_back({*start, *size, line_no, std::string(line.substr(name_begin))});
    }
    std::sort(map.entries_.begin(), map.entries_.end(), [](const Entry& a, const Entry& b) {
        return a.start != b.start ? a.start < b.start : a.line < b.line;
    });
    return map;
}

std::optional<PerfMap> PerfMap::load(const std::string& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return parse(text.view());
}

std::string PerfMap::path_for(pid_t pid) { return "/tmp/perf-" + std::to_string(pid) + ".map"; }

std::optional<std::string> PerfMap::lookup(uint64_t addr) const {
    auto it = std::upper_bound(entries_.begin(), entries_.end(), addr,
                               [](uint64_t a, const Entry& e) { return a < e.start; });
    const Entry* best = nullptr;
    for (int i = 0; i < kMaxOverlapScan && it != entries_.begin(); ++i) {
        --it;
        if (addr - it->start < it->size && (!best || it->line > best->line)) best = &*it;
    }
    if (!best) return std::nullopt;
    return best->name;
}

}  // namespace cwtrace
