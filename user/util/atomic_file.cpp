#include "util/atomic_file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>

namespace cwtrace {
namespace {

constexpr size_t kBufferBytes = 1 << 16;
constexpr int kNameTries = 16;

// A name no other account can guess in time to plant something there (a dot file, never *.prom,
// so that node_exporter's collector does not read it half-written).
std::string temporary_name(const std::string& base) {
    unsigned char random[8] = {};
    if (getrandom(random, sizeof random, 0) != sizeof random) {
        const auto t = static_cast<unsigned long long>(std::time(nullptr)) ^ getpid();
        std::memcpy(random, &t, sizeof random);
    }
    char hex[17];
    for (size_t i = 0; i < sizeof random; ++i) std::snprintf(hex + 2 * i, 3, "%02x", random[i]);
    return "." + base.substr(0, 200) + "." + hex + ".tmp";
}

int open_temporary(int dir_fd, const std::string& base, std::string& name) {
    int fd = ::openat(dir_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)) return fd;
    // A file system without O_TMPFILE: a random name, created by us or not at all.
    for (int tries = 0; tries < kNameTries; ++tries) {
        name = temporary_name(base);
        fd = ::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                      0600);
        if (fd >= 0 || errno != EEXIST) break;
    }
    if (fd < 0) name.clear();
    return fd;
}

}  // namespace

Result<AtomicFile> AtomicFile::open(const std::string& path, mode_t mode) {
    const std::filesystem::path p(path);
    const std::string dir = p.has_parent_path() ? p.parent_path().string() : ".";
    const std::string base = p.filename().string();
    AtomicFile file(path, mode);
    if (base.empty() || base == "." || base == "..") return file.failure("write", EISDIR);
    file.dir_fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (file.dir_fd_ < 0) return file.failure("write", errno);
    struct stat st = {};
    if (::fstatat(file.dir_fd_, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISDIR(st.st_mode)) return file.failure("write", EISDIR);
        if (S_ISCHR(st.st_mode)) {
            // No account but root makes a device: /dev/null or /dev/full asked for, not planted.
            file.in_place_ = true;
            file.fd_ =
                ::openat(file.dir_fd_, base.c_str(), O_WRONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
            if (file.fd_ < 0) return file.failure("write", errno);
            if (::fstat(file.fd_, &st) != 0 || !S_ISCHR(st.st_mode))
                return file.failure("write", EEXIST);  // swapped meanwhile
            return file;
        }
    }
    file.fd_ = open_temporary(file.dir_fd_, base, file.tmp_name_);
    if (file.fd_ < 0) return file.failure("create a file beside", errno);
    return file;
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : path_(std::move(other.path_)),
      mode_(other.mode_),
      dir_fd_(std::exchange(other.dir_fd_, -1)),
      fd_(std::exchange(other.fd_, -1)),
      tmp_name_(std::move(other.tmp_name_)),
      in_place_(other.in_place_),
      errno_(other.errno_),
      buffer_(std::move(other.buffer_)) {
    other.tmp_name_.clear();
}

AtomicFile::~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!tmp_name_.empty()) ::unlinkat(dir_fd_, tmp_name_.c_str(), 0);
    if (dir_fd_ >= 0) ::close(dir_fd_);
}

Error AtomicFile::failure(const std::string& what, int error) const {
    return {"cannot " + what + " " + path_ + ": " + std::strerror(error), ""};
}

bool AtomicFile::write(std::string_view bytes) {
    if (errno_) return false;
    buffer_.append(bytes);
    return buffer_.size() < kBufferBytes || flush();
}

bool AtomicFile::flush() {
    size_t done = 0;
    while (!errno_ && done < buffer_.size()) {
        const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            errno_ = n < 0 ? errno : EIO;
        else
            done += static_cast<size_t>(n);
    }
    buffer_.clear();
    return !errno_;
}

Result<void> AtomicFile::commit() {
    if (!flush()) return failure("write", errno_);
    if (in_place_) {
        const int closed = ::close(std::exchange(fd_, -1));
        return closed == 0 ? Result<void>(Ok{}) : failure("write", errno);
    }
    if (::fchmod(fd_, mode_) != 0 || ::fsync(fd_) != 0) return failure("write", errno);
    if (auto linked = link_over_target(); !linked) return linked;
    ::fsync(dir_fd_);  // the rename itself survives a crash; failing loses durability, not data
    return Ok{};
}

// The temporary gets a name (an O_TMPFILE has none yet), which is then renamed over the
// target: rename(2) replaces the entry there, whatever it is, without following it.
Result<void> AtomicFile::link_over_target() {
    const std::string base = std::filesystem::path(path_).filename().string();
    const std::string proc_fd = "/proc/self/fd/" + std::to_string(fd_);
    for (int tries = 0; tmp_name_.empty() && tries < kNameTries; ++tries) {
        const std::string name = temporary_name(base);
        // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc's link is the unprivileged way.
        if (::linkat(fd_, "", dir_fd_, name.c_str(), AT_EMPTY_PATH) == 0 ||
            ::linkat(AT_FDCWD, proc_fd.c_str(), dir_fd_, name.c_str(), AT_SYMLINK_FOLLOW) == 0)
            tmp_name_ = name;
        else if (errno != EEXIST)
            return failure("create a file beside", errno);
    }
    if (tmp_name_.empty()) return failure("create a file beside", EEXIST);
    if (::renameat(dir_fd_, tmp_name_.c_str(), dir_fd_, base.c_str()) != 0)
        return failure("replace", errno);
    tmp_name_.clear();
    return Ok{};
}

Result<void> write_file_atomically(const std::string& path, std::string_view bytes, mode_t mode) {
    auto file = AtomicFile::open(path, mode);
    if (!file) return file.error();
    file->write(bytes);
    return file->commit();
}

}  // namespace cwtrace
