// Opening files another process names, as untrusted_file.h says.
#include "util/untrusted_file.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "util/display.h"

namespace cwtrace {
namespace {

// O_PATH opens nothing: no driver's open() runs (a tape device rewinds on open), a FIFO does not
// wait for a writer. Only a regular file, checked through it, is opened for reading.
constexpr int kPathFlags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
constexpr int kReadFlags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;

const char* kind_of(mode_t mode) {
    switch (mode & S_IFMT) {
        case S_IFIFO:
            return "a FIFO";
        case S_IFSOCK:
            return "a socket";
        case S_IFCHR:
            return "a character device";
        case S_IFBLK:
            return "a block device";
        case S_IFDIR:
            return "a directory";
        case S_IFLNK:
            return "a symlink";
        default:
            return "not a regular file";
    }
}

// openat2 resolves the whole path inside `dir_fd` when asked: no glibc wrapper before 2.39.
int open_in_root(int dir_fd, const std::string& path, int flags) {
    open_how how{};
    how.flags = static_cast<uint64_t>(flags);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    return static_cast<int>(syscall(SYS_openat2, dir_fd, path.c_str(), &how, sizeof how));
}

OpenedFile refuse(Refusal why, const std::string& path, const std::string& cause) {
    if (why != Refusal::Missing)
        untrusted_file_stats().refused[static_cast<size_t>(why)].fetch_add(1);
    return OpenedFile{std::nullopt, why, display_safe(path) + ": " + cause};
}

}  // namespace

std::string_view to_string(Refusal r) {
    switch (r) {
        case Refusal::Missing:
            return "missing";
        case Refusal::NotRegular:
            return "not a regular file";
        case Refusal::TooLarge:
            return "too large";
        case Refusal::WrongOwner:
            return "wrong owner";
        case Refusal::Replaced:
            return "replaced";
        case Refusal::Unreadable:
            return "unreadable";
    }
    return "?";
}

uint64_t UntrustedFileStats::total() const {
    uint64_t sum = 0;
    for (size_t i = 1; i < kRefusalKinds; ++i) sum += refused[i].load();
    return sum;
}

std::string UntrustedFileStats::summary() const {
    std::string out;
    for (size_t i = 1; i < kRefusalKinds; ++i) {
        const uint64_t n = refused[i].load();
        if (n == 0) continue;
        if (!out.empty()) out += ", ";
        out += std::to_string(n) + " " + std::string(to_string(static_cast<Refusal>(i)));
    }
    return out;
}

// One place for every reader, as a ring buffer's drops are counted in one place: the readers
// are spread over symbols/, unwind/ and python/, and the counts only ever grow.
UntrustedFileStats& untrusted_file_stats() {
    static UntrustedFileStats stats;
    return stats;
}

OpenedFile UntrustedFile::open(const std::string& path, const FileRules& rules, int dir_fd,
                               bool in_root) {
    const int flags = rules.follow_symlinks ? kPathFlags & ~O_NOFOLLOW : kPathFlags;
    const int fd = in_root ? open_in_root(dir_fd, path, flags)
                           : ::openat(dir_fd < 0 ? AT_FDCWD : dir_fd, path.c_str(), flags);
    if (fd < 0) {
        const int err = errno;
        if (err == ENOENT || err == ENOTDIR || err == ESRCH)
            return refuse(Refusal::Missing, path, std::strerror(err));
        // RESOLVE_IN_ROOT refuses a magic link on the way with ELOOP.
        if (err == ELOOP) return refuse(Refusal::NotRegular, path, "a link, not followed");
        return refuse(Refusal::Unreadable, path, std::strerror(err));
    }
    UntrustedFile file(fd, 0);
    struct stat st;
    if (::fstat(fd, &st) != 0) return refuse(Refusal::Unreadable, path, std::strerror(errno));
    if (!S_ISREG(st.st_mode)) return refuse(Refusal::NotRegular, path, kind_of(st.st_mode));
    if (rules.identity && (st.st_dev != rules.identity->dev || st.st_ino != rules.identity->inode))
        return refuse(Refusal::Replaced, path, "not the file the process maps");
    if (!rules.owners.empty() && st.st_uid != 0 &&
        std::find(rules.owners.begin(), rules.owners.end(), st.st_uid) == rules.owners.end())
        return refuse(
            Refusal::WrongOwner, path,
            "owned by uid " + std::to_string(st.st_uid) + ", neither root nor the process's user");
    const auto size = static_cast<uint64_t>(st.st_size);
    if (size > rules.max_bytes)
        return refuse(Refusal::TooLarge, path,
                      std::to_string(size) + " bytes, over " + std::to_string(rules.max_bytes));
    // The O_PATH descriptor pins the inode checked: reopened through it, it is the same file.
    const std::string self = "/proc/self/fd/" + std::to_string(file.fd_);
    const int readable = ::open(self.c_str(), kReadFlags);
    if (readable < 0) return refuse(Refusal::Unreadable, path, std::strerror(errno));
    return OpenedFile{UntrustedFile(readable, size), Refusal::Missing, ""};
}

UntrustedFile::~UntrustedFile() {
    if (fd_ >= 0) ::close(fd_);
}

UntrustedFile::UntrustedFile(UntrustedFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), size_(other.size_) {}

UntrustedFile& UntrustedFile::operator=(UntrustedFile&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
        size_ = other.size_;
    }
    return *this;
}

int UntrustedFile::release() { return std::exchange(fd_, -1); }

std::optional<std::string> UntrustedFile::read_all() const {
    // The size checked at open bounds the read, even if the file grows meanwhile.
    std::string text(size_, '\0');
    size_t done = 0;
    while (done < text.size()) {
        const ssize_t n =
            ::pread(fd_, text.data() + done, text.size() - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return std::nullopt;
        if (n == 0) break;  // shrunk meanwhile
        done += static_cast<size_t>(n);
    }
    text.resize(done);
    return text;
}

}  // namespace cwtrace
