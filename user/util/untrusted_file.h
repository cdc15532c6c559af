// Opening a file another process names: a path in its /proc/PID/maps, its /tmp/perf-PID.map.
// cwtrace runs as root, and the path, and what sits at it, are that process's owner's to choose:
// a FIFO (an open that blocks until someone writes), a symlink to a root-only file, a device, a
// sparse file of gigabytes. One way to open such a file, so every reader refuses the same
// things: never follows a last-component symlink, never blocks, regular files only, a size cap,
// and optionally an owner and the dev:inode the process's mapping names. Every open runs under
// the hang guard's time budget (hang_guard.h): a FUSE daemon that never answers costs a name.
// A file on a filesystem a process serves is handed over as a copy in memory, read under that
// budget: libelf and libdw mmap the files they read, and a page fault on such a file would wait
// on its daemon outside any budget.
#pragma once

#include <sys/types.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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
    // The process naming the file: its mount table may be the only one naming the file's
    // filesystem (a FUSE mount in its own namespace).
    pid_t mounts_of = 0;
};

// A file on a filesystem a process serves is copied into memory whole, up to this; larger ones
// are refused (TooLarge). Python's library, the largest a symbolization needs, is ~30 MB.
inline constexpr uint64_t kMaxServedFileBytes = 64 << 20;

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
    Slow,        // no answer within the time budget, or on a filesystem that gave none before
};
inline constexpr size_t kRefusalKinds = 7;
std::string_view to_string(Refusal r);
std::string_view key_of(Refusal r);  // "not_regular", "slow": for JSON keys and metric labels

// Refusals since start, by cause: every reader of a process-named file (or memory) counts here,
// so the report's stats say how many names were lost to what.
struct UntrustedFileStats {
    std::array<std::atomic<uint64_t>, kRefusalKinds> refused{};
    uint64_t total() const;       // Missing excluded
    std::string summary() const;  // "2 FIFO or other non-regular, 1 too large"; "" for none
    void count(Refusal why);      // Missing is not counted
    // Every cause but Missing by key_of(), zeros included: the report's stats.
    std::vector<std::pair<std::string, uint64_t>> by_cause() const;
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
