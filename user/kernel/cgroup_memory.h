// How much memory cwtrace's cgroup leaves it. Since 5.11 the kernel charges a BPF map's memory
// to the memory cgroup of the process creating it, so a map planned from the host alone can be
// refused there, or loaded and leave cwtrace itself too little (OOM-killed later, not refused).
// cgroup v2 (memory.max - memory.current) and v1's memory controller (memory.limit_in_bytes -
// memory.usage_in_bytes), for the cgroup and every ancestor: the least of them binds.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace cwtrace {

struct CgroupRoom {
    uint64_t headroom_bytes = 0;  // limit - usage: the least over the cgroup and its ancestors
    uint64_t limit_bytes = 0;     // the limit of the cgroup that leaves the least
    std::string limit_file;       // that limit's file ("/sys/fs/cgroup/a/memory.max")
};

// cwtrace's cgroup paths from /proc/self/cgroup's text: v2's ("0::/a/b") and the v1 memory
// controller's ("4:memory:/a"); empty when the text has none, or one that is not a plain absolute
// path (a "/.." of a cgroup namespace: nothing under the mount to read).
struct CgroupPaths {
    std::string unified;
    std::string memory_v1;
};
CgroupPaths cgroup_paths(std::string_view proc_self_cgroup);

// A limit file's value: a number, or nullopt for "max" (v2), v1's "no limit" (2^63 less a page)
// or anything unreadable.
std::optional<uint64_t> memory_limit(std::string_view text);

// A file's text, or nullopt when it cannot be read (a test hands made-up files).
using CgroupFileReader = std::function<std::optional<std::string>(const std::string& path)>;

// The least room the cgroups of `paths` leave, read through `read` at the usual mount points
// (/sys/fs/cgroup and /sys/fs/cgroup/unified for v2, /sys/fs/cgroup/memory for v1); nullopt when
// no cgroup on the way up sets a limit.
std::optional<CgroupRoom> cgroup_room(const CgroupPaths& paths, const CgroupFileReader& read);

// cgroup_room() of cwtrace itself, read with the bounded, symlink-refusing procfs reader.
std::optional<CgroupRoom> read_cgroup_room();

}  // namespace cwtrace
