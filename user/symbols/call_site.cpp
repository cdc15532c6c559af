#include "symbols/call_site.h"

#include <unistd.h>

#include "symbols/debug_info.h"
#include "util/untrusted_file.h"

namespace cwtrace {

bool follows_call(const std::string& path, uint64_t file_offset) {
    // The process names the file: opened without following, blocking or reading a non-file.
    OpenedFile opened = UntrustedFile::open(path, capped_at(kMaxElfFileBytes));
    return opened && follows_call(opened.file->fd(), file_offset);
}

bool follows_call(int fd, uint64_t file_offset) {
#if defined(__x86_64__)
    constexpr uint64_t kWindow = 7;
    if (file_offset < kWindow) return false;
    uint8_t code[kWindow];
    ssize_t n = pread(fd, code, sizeof code, static_cast<off_t>(file_offset - kWindow));
    if (n != static_cast<ssize_t>(sizeof code)) return false;
    // call rel32: e8 xx xx xx xx
    if (code[kWindow - 5] == 0xe8) return true;
    // call r/m64 (ff /2) in its 2-, 3-, 6- and 7-byte encodings.
    auto is_ff2 = [&](uint64_t back) {
        return code[kWindow - back] == 0xff && ((code[kWindow - back + 1] >> 3) & 7) == 2;
    };
    return is_ff2(2) || is_ff2(3) || is_ff2(6) || is_ff2(7);
#else
    (void)fd;
    (void)file_offset;
    return false;
#endif
}

}  // namespace cwtrace
