// Perf maps parsed with bounds, read as perf reads them; see perf_map.h.
#include "symbols/perf_map.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

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

std::optional<PerfMap> read_map(const OpenedFile& opened, const PerfMapLimits& limits) {
    if (!opened) {
        if (opened.refusal != Refusal::Missing) spdlog::debug("perf map: {}", opened.reason);
        return std::nullopt;
    }
    auto text = opened.file->read_all();
    if (!text) return std::nullopt;
    auto map = PerfMap::parse(*text, limits);
    if (!map) {
        untrusted_file_stats().count(Refusal::TooLarge);
        spdlog::debug("perf map: over {} entries, not read", limits.max_entries);
    }
    return map;
}

// Letters, digits, '_' and '$' (and any non-ASCII byte: Java identifiers are Unicode), the
// dots between a class's package names, and the angle brackets of <init> and <clinit>.
bool java_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || c == '.' || c == '<' || c == '>' || static_cast<unsigned char>(c) >= 0x80;
}

// "java.net.Socket LeakyJava.openConnection(int)" -> "LeakyJava.openConnection": a return type
// (no spaces: "byte[]", "java.lang.String"), one space, a class and method joined by a dot,
// the parameters in parentheses at the end.
std::optional<std::string> hotspot_method(std::string_view name) {
    const size_t paren = name.find('(');
    const size_t space = name.find(' ');
    if (!name.ends_with(')') || paren == std::string_view::npos || space >= paren)
        return std::nullopt;
    const std::string_view type = name.substr(0, space);
    const std::string_view method = name.substr(space + 1, paren - space - 1);
    const bool type_ok = !type.empty() && std::all_of(type.begin(), type.end(), [](char c) {
        return java_name_char(c) || c == '[' || c == ']';
    });
    if (!type_ok || !java_method_name(method)) return std::nullopt;
    return std::string(method);
}

// "Ljava/net/Socket;::connect" (perf-map-agent; a signature may follow) ->
// "java.net.Socket.connect".
std::optional<std::string> agent_method(std::string_view name) {
    const size_t sep = name.find(";::");
    if (!name.starts_with('L') || sep == std::string_view::npos) return std::nullopt;
    std::string out(name.substr(1, sep - 1));
    std::replace(out.begin(), out.end(), '/', '.');
    std::string_view method = name.substr(sep + 3);
    method = method.substr(0, method.find('('));
    out += '.';
    out += method;
    if (!java_method_name(out)) return std::nullopt;
    return out;
}

}  // namespace

bool java_method_name(std::string_view name) {
    return name.find('.') != std::string_view::npos && name.front() != '.' && name.back() != '.' &&
           std::all_of(name.begin(), name.end(), java_name_char);
}

std::string display_name(std::string_view name) {
    if (auto m = hotspot_method(name)) return *m;
    if (auto m = agent_method(name)) return *m;
    return std::string(name);
}

std::optional<PerfMap> PerfMap::parse(std::string_view text, const PerfMapLimits& limits) {
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
        if (map.entries_.size() >= limits.max_entries) return std::nullopt;
        std::string_view name = line.substr(name_begin).substr(0, limits.max_name_bytes);
        map.entries_.push_back({*start, *size, line_no, std::string(name)});
    }
    std::sort(map.entries_.begin(), map.entries_.end(), [](const Entry& a, const Entry& b) {
        return a.start != b.start ? a.start < b.start : a.line < b.line;
    });
    return map;
}

std::optional<PerfMap> PerfMap::load(const std::string& path, FileRules rules,
                                     const PerfMapLimits& limits) {
    rules.max_bytes = limits.max_bytes;
    OpenedFile opened = UntrustedFile::open(path, rules);
    return read_map(opened, limits);
}

std::optional<PerfMap> PerfMap::load(const ProcessMaps& maps, bool alive,
                                     const PerfMapLimits& limits) {
    FileRules rules = capped_at(limits.max_bytes);
    rules.owners = maps.uids();
    rules.mounts_of = maps.pid();
    // No uid known: no owner to accept but root.
    if (rules.owners.empty()) rules.owners.push_back(0);
    const std::string own_tmp = "/tmp/perf-" + std::to_string(maps.namespace_pid()) + ".map";
    const std::string root = "/proc/" + std::to_string(maps.pid()) + "/root";
    const int root_fd = alive ? ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
    if (root_fd >= 0) {
        OpenedFile opened = UntrustedFile::open(own_tmp, rules, root_fd, true);
        ::close(root_fd);
        return read_map(opened, limits);
    }
    // Gone: its file is still ours to read when it saw our /tmp (NSpid is then its pid).
    if (!maps.root().empty() || maps.namespace_pid() != maps.pid()) return std::nullopt;
    return read_map(UntrustedFile::open(own_tmp, rules), limits);
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
