// Which filesystems a file cwtrace reads for another process may wait on that process: FUSE
// (any user can mount one: fusermount is setuid, user namespaces allow it) and network
// filesystems, whose reads wait on a daemon or a server. Known from the device number alone,
// through mountinfo (procfs: it never touches the filesystem it describes), so a file can be
// judged before it is opened. And which filesystems have hung once: never touched again.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace cwtrace {

// The filesystem type mountinfo text gives the device (makedev(major, minor)), or nullopt.
std::optional<std::string> fstype_in_mountinfo(std::string_view mountinfo, uint64_t dev);

// Whether a filesystem of this type answers reads through a process (a FUSE daemon, a server).
bool served_by_a_process(std::string_view fstype);

class SlowFilesystems {
  public:
    // Reads a /proc file whole; nullopt when it cannot.
    using ProcReader = std::function<std::optional<std::string>(const std::string& path)>;
    explicit SlowFilesystems(ProcReader read);

    // Whether reads of files on `dev` may wait on a process: by its type in cwtrace's mount
    // table, else in that of `pid` (a mount in another namespace); a device found in neither is
    // judged served. Read each time: mounts come and go, and device numbers are reused.
    bool served(uint64_t dev, pid_t pid) const;

    bool slow(uint64_t dev) const;
    void mark_slow(uint64_t dev);

  private:
    ProcReader read_;
    mutable std::mutex mutex_;
    std::set<uint64_t> slow_;
};

}  // namespace cwtrace
