// Opening files another process names, as untrusted_file.h says.
#include "util/untrusted_file.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "util/display.h"
#include "util/hang_guard.h"
#include "util/reader_process.h"

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

// Counted where the file was asked for: the reader process's counts are its own.
OpenedFile refuse(Refusal why, const std::string& path, const std::string& cause) {
    return OpenedFile{std::nullopt, why, display_safe(path) + ": " + cause};
}

// The whole of `source` (at most `size` bytes) in an anonymous memory file: mapping or reading
// it never waits on the filesystem `source` came from.
OpenedFile copy_to_memory(const std::string& path, int source, uint64_t size) {
    UntrustedFile copy = UntrustedFile::adopt(::memfd_create("cwtrace-copy", MFD_CLOEXEC), 0);
    if (copy.fd() < 0) return refuse(Refusal::Unreadable, path, std::strerror(errno));
    char buffer[64 << 10];
    uint64_t done = 0;
    while (done < size) {
        const ssize_t n = ::pread(source, buffer, std::min<uint64_t>(sizeof buffer, size - done),
                                  static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return refuse(Refusal::Unreadable, path, std::strerror(errno));
        if (n == 0) break;  // shrunk meanwhile
        if (::write(copy.fd(), buffer, static_cast<size_t>(n)) != n)
            return refuse(Refusal::Unreadable, path,
                          "copying to memory: " + std::string(std::strerror(errno)));
        done += static_cast<uint64_t>(n);
    }
    return OpenedFile{UntrustedFile::adopt(copy.release(), done), Refusal::Missing, ""};
}

// The open itself, on the hang guard's worker: every call here may wait on a FUSE daemon.
OpenedFile open_now(const std::string& path, const FileRules& rules, int dir_fd, bool in_root,
                    const ReachedDevice& reached) {
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
    const UntrustedFile pinned = UntrustedFile::adopt(fd, 0);
    struct stat st;
    if (::fstat(fd, &st) != 0) return refuse(Refusal::Unreadable, path, std::strerror(errno));
    reached(st.st_dev);
    HangGuard& guard = hang_guard();
    if (guard.slow(st.st_dev))
        return refuse(Refusal::Slow, path, "on a filesystem that did not answer before");
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
    const bool served = guard.served(st.st_dev, rules.mounts_of);
    if (served && size > kMaxServedFileBytes)
        return refuse(Refusal::TooLarge, path,
                      std::to_string(size) + " bytes on a filesystem a process serves, over " +
                          std::to_string(kMaxServedFileBytes));
    // The O_PATH descriptor pins the inode checked: reopened through it, it is the same file.
    const std::string self = "/proc/self/fd/" + std::to_string(fd);
    UntrustedFile readable = UntrustedFile::adopt(::open(self.c_str(), kReadFlags), size);
    if (readable.fd() < 0) return refuse(Refusal::Unreadable, path, std::strerror(errno));
    if (served) return copy_to_memory(path, readable.fd(), size);
    return OpenedFile{std::move(readable), Refusal::Missing, ""};
}

// The open's arguments and result, as they cross to the reader process and back.
std::string open_args(const std::string& path, const FileRules& rules, bool in_root) {
    Bytes out;
    out.put(path).put(rules.max_bytes).put(rules.owners.size());
    for (uid_t uid : rules.owners) out.put(uid);
    out.put(rules.identity.has_value());
    if (rules.identity) out.put(rules.identity->dev).put(rules.identity->inode);
    out.put(rules.follow_symlinks).put(static_cast<uint64_t>(rules.mounts_of)).put(in_root);
    return out.take();
}

ReaderReply open_in_reader(std::string_view args, int dir_fd, const ReachedDevice& reached) {
    Bytes in(args);
    const std::string path(in.text());
    FileRules rules;
    rules.max_bytes = in.number();
    for (uint64_t n = std::min<uint64_t>(in.number(), 64); n > 0; --n)
        rules.owners.push_back(static_cast<uid_t>(in.number()));
    if (in.number()) rules.identity = FileIdentity{in.number(), in.number()};
    rules.follow_symlinks = in.number() != 0;
    rules.mounts_of = static_cast<pid_t>(in.number());
    const bool in_root = in.number() != 0;
    if (!in.ok()) return {};
    OpenedFile opened = open_now(path, rules, dir_fd, in_root, reached);
    ReaderReply reply;
    reply.bytes = Bytes()
                      .put(static_cast<uint64_t>(opened.refusal))
                      .put(opened ? opened.file->size() : 0)
                      .put(opened.reason)
                      .take();
    if (opened) reply.fd = opened.file->release();
    return reply;
}

OpenedFile opened_from(const std::string& path, ReaderReply reply) {
    UntrustedFile file = UntrustedFile::adopt(reply.fd, 0);
    Bytes in(reply.bytes);
    const uint64_t refusal = in.number();
    const uint64_t size = in.number();
    const std::string reason(in.text());
    if (!in.ok() || refusal >= kRefusalKinds)
        return refuse(Refusal::Unreadable, path, "no answer from the reader process");
    if (file.fd() < 0) return OpenedFile{std::nullopt, static_cast<Refusal>(refusal), reason};
    return OpenedFile{UntrustedFile::adopt(file.release(), size), Refusal::Missing, ""};
}

const uint32_t kOpenOperation = register_reader_operation(open_in_reader);

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
        case Refusal::Slow:
            return "slow";
    }
    return "?";
}

std::string_view key_of(Refusal r) {
    static constexpr std::string_view kKeys[kRefusalKinds] = {
        "missing", "not_regular", "too_large", "wrong_owner", "replaced", "unreadable", "slow"};
    const auto i = static_cast<size_t>(r);
    return i < kRefusalKinds ? kKeys[i] : "?";
}

std::vector<std::pair<std::string, uint64_t>> UntrustedFileStats::by_cause() const {
    std::vector<std::pair<std::string, uint64_t>> out;
    for (size_t i = 1; i < kRefusalKinds; ++i)
        out.emplace_back(key_of(static_cast<Refusal>(i)), refused[i].load());
    return out;
}

uint64_t UntrustedFileStats::total() const {
    uint64_t sum = 0;
    for (size_t i = 1; i < kRefusalKinds; ++i) sum += refused[i].load();
    return sum;
}

void UntrustedFileStats::count(Refusal why) {
    if (why != Refusal::Missing) refused[static_cast<size_t>(why)].fetch_add(1);
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
    HangGuard::Target target;
    if (rules.identity) target.dev = rules.identity->dev;
    target.pid = rules.mounts_of;
    std::string why;
    bool slow = false;
    auto reply = hang_guard().call(target, kOpenOperation, open_args(path, rules, in_root), dir_fd,
                                   why, &slow);
    OpenedFile opened = reply  ? opened_from(path, std::move(*reply))
                        : slow ? refuse(Refusal::Slow, path, why)
                               : refuse(Refusal::Unreadable, path, why);
    untrusted_file_stats().count(opened.refusal);
    return opened;
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
