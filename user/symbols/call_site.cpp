#include "symbols/call_site.h"

#include <fcntl.h>
#include <unistd.h>

#include "cwtrace/call_insn.h"

namespace cwtrace {

bool follows_call(const std::string& path, uint64_t file_offset) {
#if defined(__x86_64__)
    if (file_offset < CW_CALL_WINDOW) return false;
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    uint8_t code[CW_CALL_WINDOW];
    ssize_t n = pread(fd, code, sizeof code, static_cast<off_t>(file_offset - CW_CALL_WINDOW));
    close(fd);
    if (n != static_cast<ssize_t>(sizeof code)) return false;
    // The kernel side's test (cwtrace/call_insn.h); the callee it checked is not in the file.
    __u64 callee = 0;
    return cw_decode_call(code, file_offset, &callee) != CW_CALL_NONE;
#else
    (void)path;
    (void)file_offset;
    return false;
#endif
}

}  // namespace cwtrace
