#include "owners/process_info.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <vector>

namespace cwtrace {
namespace {

// /proc/PID/status is ~1.5 KiB; a cgroup v1 file lists one line per hierarchy.
constexpr size_t kMaxStatusBytes = 16 * 1024;
constexpr size_t kMaxCgroupBytes = 64 * 1024;

// Up to `max_bytes` of a file, empty when it cannot be read. procfs files may need several reads.
std::string read_bounded(const std::string& path, size_t max_bytes) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {};
    std::string text;
    char chunk[4096];
    while (text.size() < max_bytes) {
        ssize_t n = read(fd, chunk, std::min(sizeof chunk, max_bytes - text.size()));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.append(chunk, static_cast<size_t>(n));
    }
    close(fd);
    return text;
}

std::string proc_file(const std::string& proc_root, pid_t pid, const char* name) {
    return proc_root + "/" + std::to_string(pid) + "/" + name;
}

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\0'; }

// The rest of the line that starts with `key`, or nullopt.
std::optional<std::string_view> line_value(std::string_view text, std::string_view key) {
    size_t at = 0;
    while (at < text.size()) {
        size_t end = text.find('\n', at);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(at, end - at);
        if (line.starts_with(key)) return line.substr(key.size());
        at = end + 1;
    }
    return std::nullopt;
}

bool is_hex_id(std::string_view s) {
    return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

// "docker-<id>.scope" -> "<id>"; also without ".scope" (cgroupfs drivers under kubepods).
std::optional<std::string_view> prefixed_id(std::string_view component) {
    static constexpr std::array<std::string_view, 4> kPrefixes = {"docker-", "cri-containerd-",
                                                                  "crio-", "libpod-"};
    for (auto prefix : kPrefixes) {
        if (!component.starts_with(prefix)) continue;
        std::string_view rest = component.substr(prefix.size());
        if (rest.ends_with(".scope")) rest.remove_suffix(6);
        if (is_hex_id(rest)) return rest;
    }
    return std::nullopt;
}

// Where to cut `text` at or before `limit` without leaving half a UTF-8 character.
size_t utf8_cut(std::string_view text, size_t limit) {
    auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
    size_t continuation = 0;
    while (continuation < 3 && continuation < limit &&
           (byte(limit - 1 - continuation) & 0xC0) == 0x80)
        ++continuation;
    if (continuation == limit) return limit;
    const size_t lead = limit - 1 - continuation;
    const unsigned char b = byte(lead);
    const size_t length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
    return continuation + 1 < length ? lead : limit;
}

}  // namespace

std::string format_cmdline(std::string_view raw) {
    if (raw.size() > kMaxCmdlineBytes) raw = raw.substr(0, utf8_cut(raw, kMaxCmdlineBytes));
    while (!raw.empty() && is_blank(raw.front())) raw.remove_prefix(1);
    while (!raw.empty() && is_blank(raw.back())) raw.remove_suffix(1);
    std::string out(raw);
    std::replace(out.begin(), out.end(), '\0', ' ');
    return out;
}

std::optional<pid_t> parse_nspid(std::string_view status_text) {
    auto value = line_value(status_text, "NSpid:");
    if (!value) return std::nullopt;
    std::vector<pid_t> pids;
    std::string_view rest = *value;
    while (true) {
        while (!rest.empty() && is_blank(rest.front())) rest.remove_prefix(1);
        if (rest.empty()) break;
        pid_t pid = 0;
        auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), pid);
        if (ec != std::errc() || pid <= 0) return std::nullopt;
        if (end != rest.data() + rest.size() && !is_blank(*end)) return std::nullopt;
        pids.push_back(pid);
        rest.remove_prefix(static_cast<size_t>(end - rest.data()));
    }
    if (pids.size() < 2) return std::nullopt;
    return pids.back();
}

std::string parse_cgroup_path(std::string_view cgroup_text) {
    std::optional<std::string_view> v2, v1_deep, v1_any;
    size_t at = 0;
    while (at < cgroup_text.size()) {
        size_t end = cgroup_text.find('\n', at);
        if (end == std::string_view::npos) end = cgroup_text.size();
        std::string_view line = cgroup_text.substr(at, end - at);
        at = end + 1;
        // "hierarchy-id:controllers:path"; the path itself may hold colons.
        size_t first = line.find(':');
        size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
        if (second == std::string_view::npos) continue;
        std::string_view path = line.substr(second + 1);
        if (!path.starts_with('/')) continue;
        if (line.substr(0, first) == "0" && first + 1 == second) {
            if (!v2) v2 = path;
        } else {
            if (!v1_any) v1_any = path;
            if (!v1_deep && path != "/") v1_deep = path;
        }
    }
    if (v2 && *v2 != "/") return std::string(*v2);
    if (v1_deep) return std::string(*v1_deep);
    if (v2) return std::string(*v2);
    return std::string(v1_any.value_or(""));
}

std::optional<std::string> container_id(std::string_view cgroup_path) {
    // Innermost component first: "/docker/<id>/init.scope", "libpod-<id>.scope/container".
    while (!cgroup_path.empty()) {
        size_t slash = cgroup_path.rfind('/');
        std::string_view component =
            slash == std::string_view::npos ? cgroup_path : cgroup_path.substr(slash + 1);
        if (is_hex_id(component)) return std::string(component);
        if (auto id = prefixed_id(component)) return std::string(*id);
        if (slash == std::string_view::npos) break;
        cgroup_path = cgroup_path.substr(0, slash);
    }
    return std::nullopt;
}

std::string read_cmdline(pid_t pid, const std::string& proc_root) {
    // One byte more than the bound tells format_cmdline the line was cut.
    return format_cmdline(read_bounded(proc_file(proc_root, pid, "cmdline"), kMaxCmdlineBytes + 1));
}

std::optional<pid_t> namespaced_pid(pid_t pid, const std::string& proc_root) {
    return parse_nspid(read_bounded(proc_file(proc_root, pid, "status"), kMaxStatusBytes));
}

std::string cgroup_path(pid_t pid, const std::string& proc_root) {
    return parse_cgroup_path(read_bounded(proc_file(proc_root, pid, "cgroup"), kMaxCgroupBytes));
}

ProcessDetails read_process_details(pid_t pid, const std::string& proc_root) {
    ProcessDetails details;
    details.cmdline = read_cmdline(pid, proc_root);
    details.namespaced_pid = namespaced_pid(pid, proc_root);
    details.cgroup = cgroup_path(pid, proc_root);
    details.container_id = container_id(details.cgroup);
    return details;
}

}  // namespace cwtrace
