// Filesystem types by device number, and the ones that hung, as slow_filesystems.h says.
#include "util/slow_filesystems.h"

#include <sys/sysmacros.h>

#include <charconv>

#include "util/fields.h"

namespace cwtrace {
namespace {

std::optional<uint64_t> parse_dev(std::string_view field) {
    const size_t colon = field.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    unsigned major = 0, minor = 0;
    const char* end = field.data() + field.size();
    auto [after_major, e1] = std::from_chars(field.data(), field.data() + colon, major);
    auto [after_minor, e2] = std::from_chars(field.data() + colon + 1, end, minor);
    if (e1 != std::errc() || e2 != std::errc() || after_major != field.data() + colon ||
        after_minor != end)
        return std::nullopt;
    return makedev(major, minor);
}

}  // namespace

// A line: "ID PARENT MAJOR:MINOR ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER".
std::optional<std::string> fstype_in_mountinfo(std::string_view mountinfo, uint64_t dev) {
    for (std::string_view line = next_line(mountinfo); !line.empty() || !mountinfo.empty();
         line = next_line(mountinfo)) {
        next_field(line);
        next_field(line);
        if (parse_dev(next_field(line)) != dev) continue;
        // The optional fields end at a lone "-"; mount points escape blanks as \040.
        for (std::string_view f = next_field(line); !f.empty(); f = next_field(line))
            if (f == "-") return std::string(next_field(line));
    }
    return std::nullopt;
}

bool served_by_a_process(std::string_view fstype) {
    // "fuse", "fuseblk", "fuse.sshfs", "fuseblk.ntfs": every FUSE mount names itself so.
    if (fstype.starts_with("fuse")) return true;
    static constexpr std::string_view kNetwork[] = {
        "nfs", "nfs4", "cifs",  "smb3",   "smbfs",    "9p",      "ceph",
        "afs", "coda", "ncpfs", "lustre", "orangefs", "virtiofs"};
    for (std::string_view type : kNetwork)
        if (fstype == type) return true;
    return false;
}

SlowFilesystems::SlowFilesystems(ProcReader read) : read_(std::move(read)) {}

bool SlowFilesystems::served(uint64_t dev, pid_t pid) const {
    std::optional<std::string> type;
    if (auto own = read_("/proc/self/mountinfo")) type = fstype_in_mountinfo(*own, dev);
    if (!type && pid > 0)
        if (auto theirs = read_("/proc/" + std::to_string(pid) + "/mountinfo"))
            type = fstype_in_mountinfo(*theirs, dev);
    return !type || served_by_a_process(*type);
}

bool SlowFilesystems::slow(uint64_t dev) const {
    std::lock_guard lock(mutex_);
    return slow_.count(dev) != 0;
}

void SlowFilesystems::mark_slow(uint64_t dev) {
    std::lock_guard lock(mutex_);
    slow_.insert(dev);
}

}  // namespace cwtrace
