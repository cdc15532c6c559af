#include "metrics/metrics_textfile.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace cwtrace {
namespace {

Error io_error(const std::string& what, const std::string& path) {
    return {"--metrics-textfile: cannot " + what + " " + path + ": " + std::strerror(errno),
            "the directory must be writable by cwtrace"};
}

bool write_fully(int fd, const std::string& text) {
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<size_t>(n);
    }
    return true;
}

// So that the rename itself survives a crash; a failure here loses no data, only durability.
void sync_directory(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
}

}  // namespace

Result<void> write_textfile_atomically(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";  // not *.prom: the collector never reads it
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return io_error("create", tmp);
    if (!write_fully(fd, text) || ::fsync(fd) != 0) {
        Error error = io_error("write", tmp);
        ::close(fd);
        ::unlink(tmp.c_str());
        return error;
    }
    if (::close(fd) != 0) {
        Error error = io_error("write", tmp);
        ::unlink(tmp.c_str());
        return error;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        Error error = io_error("rename to", path);
        ::unlink(tmp.c_str());
        return error;
    }
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    sync_directory(parent.empty() ? "." : parent.string());
    return Ok{};
}

}  // namespace cwtrace
