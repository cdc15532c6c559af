// Opening a file another process names: a path in its /proc/PID/maps, its /tmp/perf-PID.map.
// cwtrace runs as root, and the path, and what sits at it, are that process's owner's to choose:
// a FIFO (an open that blocks until someone writes), a symlink to a root-only file, a device, a
// sparse file of gigabytes. One way to open such a file, so every reader refuses the same
// things: never follows a last-component symlink, never blocks, regular files only, a size cap,
// and optionally an owner and the dev:inode the process's mapping names.
#pragma once

#include <sys/types.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cwtrace {

// A file as /proc/PID/maps names it: st_dev as makedev(major, minor), and the inode.
struct FileIdentity {
    uint64_t dev = 0;
    uint64_t inode = 0;
    bool operator==(const FileIdentity&) const = default;
};

struct FileRules {
    uint64_t max_bytes = 0;  // larger files are refused, not read in part
    // Besides root, the only owners accepted; empty: any owner.
    std::vector<uid_t> owners;
    std::optional<FileIdentity> identity;  // the file must be this one (not one put in its place)
    // Only for directories root owns (/usr/lib/debug): a symlink there is root's choice.
    bool follow_symlinks = false;
};

// The rules most readers need: any owner, any file, at most `max_bytes`.
inline FileRules capped_at(uint64_t max_bytes) {
    FileRules rules;
    rules.max_bytes = max_bytes;
    return rules;
}

// Why a file was not read; Missing is no refusal and is not counted.
enum class Refusal : uint8_t {
    Missing,     // nothing there (or the process's root is gone)
    NotRegular,  // a FIFO, socket, device, directory, or a symlink (never followed)
    TooLarge,    // over the reader's cap
    WrongOwner,  // owned by neither root nor the process's user
    Replaced,    // another file than the one the process maps
    Unreadable,  // any other error of open, fstat or read
};
inline constexpr size_t kRefusalKinds = 6;
std::string_view to_string(Refusal r);

// Refusals since start, by cause: every reader of a process-named file counts here, so one
// line (`-v`, at each report) says how many names were lost to what.
struct UntrustedFileStats {
    std::array<std::atomic<uint64_t>, kRefusalKinds> refused{};
    uint64_t total() const;       // Missing excluded
    std::string summary() const;  // "2 FIFO or other non-regular, 1 too large"; "" for none
};
UntrustedFileStats& untrusted_file_stats();

struct OpenedFile;

class UntrustedFile {
  public:
    // `path` relative to `dir_fd` when given; with `in_root`, every symlink and ".." in it
    // resolves as if `dir_fd` were "/" (a container's root, /proc/PID/root: its /tmp may be a
    // symlink to the host's /etc).
    static OpenedFile open(const std::string& path, const FileRules& rules, int dir_fd = -1,
                           bool in_root = false);
    ~UntrustedFile();
    UntrustedFile(UntrustedFile&& other) noexcept;
    UntrustedFile& operator=(UntrustedFile&& other) noexcept;
    UntrustedFile(const UntrustedFile&) = delete;
    UntrustedFile& operator=(const UntrustedFile&) = delete;

    // A descriptor already checked (a dup of one), of `size` bytes.
    static UntrustedFile adopt(int fd, uint64_t size) { return UntrustedFile(fd, size); }

    int fd() const { return fd_; }
    uint64_t size() const { return size_; }
    // Hands the descriptor over (to libdwfl, which closes what it is given on success).
    int release();
    // The whole file, at most the size checked at open; nullopt on a read error.
    std::optional<std::string> read_all() const;

  private:
    UntrustedFile(int fd, uint64_t size) : fd_(fd), size_(size) {}
    int fd_ = -1;
    uint64_t size_ = 0;
};

// The file, or why not: `reason` is one line naming the path and the cause, for -v.
struct OpenedFile {
    std::optional<UntrustedFile> file;
    Refusal refusal = Refusal::Missing;
    std::string reason;
    explicit operator bool() const { return file.has_value(); }
};

}  // namespace cwtrace
