// A stack recorded the way the BPF side records one at connect(): the registers and a copy of
// the stack from sp up, for the unwinder tests (test_unwind.cpp, built without frame pointers,
// and test_unwind_fp.cpp, built with them).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "unwind/unwind_dwarf.h"

namespace cwtrace::unwind_test {

inline constexpr size_t kCopyBytes = 4096;

struct Recorded {
    StackSample sample;
    std::vector<std::byte> copy;
};

// Bytes from `sp` to the end of its mapping: the copy must not run past the top of the stack.
inline size_t bytes_above(uint64_t sp) {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
        uint64_t start = std::stoull(line, nullptr, 16);
        uint64_t end = std::stoull(line.substr(line.find('-') + 1), nullptr, 16);
        if (sp >= start && sp < end) return static_cast<size_t>(end - sp);
    }
    return 0;
}

// Word by word and unchecked by ASan: it reads other functions' frames, as the BPF side does.
__attribute__((no_sanitize("address"), noinline)) inline void copy_stack(std::byte* to, uint64_t sp,
                                                                         size_t n) {
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t word = *reinterpret_cast<const volatile uint64_t*>(sp + i);
        std::memcpy(to + i, &word, 8);
    }
}

#if defined(__x86_64__)
// Records the registers and stack of the function it is inlined into (always: they must be that
// function's, like the syscall instruction's in libc's connect()), built as that file is.
__attribute__((always_inline)) inline void record_here(Recorded* out) {
    uint64_t sp, bp, ip;
    asm volatile(
        "mov %%rsp, %0\n"
        "mov %%rbp, %1\n"
        "lea 0(%%rip), %2\n"
        : "=r"(sp), "=r"(bp), "=r"(ip));
    out->copy.resize(std::min(kCopyBytes, bytes_above(sp)) & ~size_t{7});
    copy_stack(out->copy.data(), sp, out->copy.size());
    out->sample.ip = ip;
    out->sample.sp = sp;
    out->sample.bp = bp;
    out->sample.tid = static_cast<uint32_t>(gettid());
}
#endif

}  // namespace cwtrace::unwind_test
