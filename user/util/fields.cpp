#include "util/fields.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

namespace cwtrace {

std::optional<std::string> read_procfs_text(const std::string& path, size_t max_bytes, bool& cut) {
    // Kernel files are never symlinks nor FIFOs: one put in their place is refused, not waited on.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return std::nullopt;
    constexpr size_t kChunk = 64 << 10;
    std::string text;
    bool failed = false;
    while (text.size() <= max_bytes) {  // one byte past the bound tells it was cut
        const size_t done = text.size();
        const size_t want = std::min(kChunk, max_bytes + 1 - done);
        text.resize(done + want);
        const ssize_t n = ::read(fd, text.data() + done, want);
        text.resize(done + static_cast<size_t>(std::max<ssize_t>(n, 0)));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            failed = n < 0;
            break;
        }
    }
    ::close(fd);
    if (failed) return std::nullopt;
    cut = text.size() > max_bytes;
    if (cut) text.resize(text.rfind('\n', max_bytes) + 1);
    return text;
}

std::string_view next_line(std::string_view& rest) {
    const size_t eol = std::min(rest.find('\n'), rest.size());
    std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(std::min(eol + 1, rest.size()));
    return line;
}

std::string_view next_field(std::string_view& rest) {
    size_t begin = rest.find_first_not_of(kFieldBlanks);
    if (begin == std::string_view::npos) {
        rest = {};
        return {};
    }
    rest.remove_prefix(begin);
    size_t end = std::min(rest.find_first_of(kFieldBlanks), rest.size());
    std::string_view field = rest.substr(0, end);
    rest.remove_prefix(end);
    return field;
}

std::optional<uint64_t> parse_hex(std::string_view s) {
    uint64_t value = 0;
    const char* last = s.data() + s.size();
    auto [ptr, ec] = std::from_chars(s.data(), last, value, 16);
    if (s.empty() || ec != std::errc{} || ptr != last) return std::nullopt;
    return value;
}

}  // namespace cwtrace
