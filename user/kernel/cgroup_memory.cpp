// The memory cwtrace's cgroup leaves it (cgroup_memory.h).
#include "kernel/cgroup_memory.h"

#include <charconv>

#include "util/fields.h"

namespace cwtrace {
namespace {

// Past this a v1 limit means none: unlimited reads as 2^63 less a page (PAGE_COUNTER_MAX).
constexpr uint64_t kNoLimitFrom = uint64_t{1} << 60;
// cgroup trees are shallow; a longer walk means a path not worth trusting.
constexpr int kMaxDepth = 64;

// Whether `path` is absolute with no empty, "." or ".." component ("/" itself is).
bool plain_path(std::string_view path) {
    if (path.empty() || path.front() != '/') return false;
    if (path == "/") return true;
    for (std::string_view rest = path.substr(1);;) {
        const size_t slash = rest.find('/');
        const std::string_view part = rest.substr(0, slash);
        if (part.empty() || part == "." || part == "..") return false;
        if (slash == std::string_view::npos) return true;
        rest.remove_prefix(slash + 1);
    }
}

// Whether the comma-separated `controllers` name `wanted`.
bool names(std::string_view controllers, std::string_view wanted) {
    for (std::string_view rest = controllers;;) {
        const size_t comma = rest.find(',');
        if (rest.substr(0, comma) == wanted) return true;
        if (comma == std::string_view::npos) return false;
        rest.remove_prefix(comma + 1);
    }
}

struct Hierarchy {
    const char* mount;
    const char* limit_file;
    const char* usage_file;
};
constexpr Hierarchy kUnified[] = {{"/sys/fs/cgroup", "memory.max", "memory.current"},
                                  {"/sys/fs/cgroup/unified", "memory.max", "memory.current"}};
constexpr Hierarchy kMemoryV1 = {"/sys/fs/cgroup/memory", "memory.limit_in_bytes",
                                 "memory.usage_in_bytes"};

// Keeps in `least` whichever of it and `room` leaves less.
void keep_least(std::optional<CgroupRoom>& least, std::optional<CgroupRoom> room) {
    if (room && (!least || room->headroom_bytes < least->headroom_bytes)) least = std::move(room);
}

// The least room of `path` and its ancestors in hierarchy `h`.
std::optional<CgroupRoom> walk(const Hierarchy& h, std::string path, const CgroupFileReader& read) {
    std::optional<CgroupRoom> least;
    for (int depth = 0; depth < kMaxDepth; ++depth) {
        const std::string dir = std::string(h.mount) + (path == "/" ? "" : path) + "/";
        if (const auto limit = memory_limit(read(dir + h.limit_file).value_or(""))) {
            // Usage is a number of the same form, always below the no-limit mark.
            if (const auto usage = memory_limit(read(dir + h.usage_file).value_or("")))
                keep_least(least, CgroupRoom{*limit > *usage ? *limit - *usage : 0, *limit,
                                             dir + h.limit_file});
        }
        if (path == "/") break;
        const size_t slash = path.rfind('/');
        path.resize(slash == 0 ? 1 : slash);
    }
    return least;
}

}  // namespace

CgroupPaths cgroup_paths(std::string_view text) {
    CgroupPaths paths;
    for (std::string_view rest = text; !rest.empty();) {
        std::string_view line = next_line(rest);
        // "hierarchy-id:controllers:path"; the path may itself hold ':'.
        const size_t first = line.find(':');
        const size_t second = line.find(':', first == line.npos ? line.size() : first + 1);
        if (second == std::string_view::npos) continue;
        const std::string_view id = line.substr(0, first);
        const std::string_view controllers = line.substr(first + 1, second - first - 1);
        const std::string_view path = line.substr(second + 1);
        if (!plain_path(path)) continue;
        if (id == "0" && controllers.empty())
            paths.unified = path;
        else if (names(controllers, "memory"))
            paths.memory_v1 = path;
    }
    return paths;
}

std::optional<uint64_t> memory_limit(std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    if (value >= kNoLimitFrom) return std::nullopt;
    return value;
}

std::optional<CgroupRoom> cgroup_room(const CgroupPaths& paths, const CgroupFileReader& read) {
    std::optional<CgroupRoom> least;
    if (!paths.unified.empty())
        for (const Hierarchy& h : kUnified) keep_least(least, walk(h, paths.unified, read));
    if (!paths.memory_v1.empty()) keep_least(least, walk(kMemoryV1, paths.memory_v1, read));
    return least;
}

std::optional<CgroupRoom> read_cgroup_room() {
    const auto read = [](const std::string& path) {
        bool cut = false;
        return read_procfs_text(path, 4096, cut);
    };
    return cgroup_room(cgroup_paths(read("/proc/self/cgroup").value_or("")), read);
}

}  // namespace cwtrace
