#include "symbols/call_site.h"

#include <unistd.h>

#include "cwtrace/call_insn.h"
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
    if (file_offset < CW_CALL_WINDOW) return false;
    uint8_t code[CW_CALL_WINDOW];
    ssize_t n = pread(fd, code, sizeof code, static_cast<off_t>(file_offset - CW_CALL_WINDOW));
    if (n != static_cast<ssize_t>(sizeof code)) return false;
    // The kernel side's test (cwtrace/call_insn.h); the callee it checked is not in the file.
    __u64 callee = 0;
    return cw_decode_call(code, file_offset, &callee) != CW_CALL_NONE;
#else
    (void)fd;
    (void)file_offset;
    return false;
#endif
}

}  // namespace cwtrace
