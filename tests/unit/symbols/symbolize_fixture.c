// A process with known function names for the symbolizer tests. It prints the runtime
// addresses the tests resolve, then stays alive (so its /proc/PID/maps can be read) until its
// stdin is closed.
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

__attribute__((noinline)) int cw_fixture_alpha(int x) {
    // Enough work that the function is several instructions long, so "start + 3" is inside.
    volatile int acc = x;
    for (int i = 0; i < 4; ++i) acc = acc * 3 + i;
    return acc;
}

__attribute__((noinline)) int cw_fixture_beta(int x) { return cw_fixture_alpha(x) - 2; }

// Named like a C++ function so the demangling path has a known input without a C++ fixture.
__attribute__((noinline)) int cw_fixture_mangled(int x) __asm__("_ZN2cw7fixture7mangledEi");
int cw_fixture_mangled(int x) { return x + 7; }

// Hand-written assembly often has no .size: the symbolizer must still name it (size-0 path).
#if defined(__x86_64__) || defined(__aarch64__)
#define CW_HAVE_NOSIZE 1
__asm__(
    ".text\n"
    ".globl cw_fixture_nosize\n"
    ".type cw_fixture_nosize, %function\n"
    "cw_fixture_nosize:\n"
    "  nop\n"
    "  nop\n"
    "  nop\n"
    "  ret\n");
void cw_fixture_nosize(void);
#endif

static void print_address(const char* key, const void* addr) {
    printf("%s 0x%" PRIxPTR "\n", key, (uintptr_t)addr);
}

int main(void) {
    // Casting through uintptr_t: ISO C has no function-pointer-to-object-pointer conversion.
    print_address("alpha", (const void*)(uintptr_t)&cw_fixture_alpha);
    print_address("alpha_mid", (const char*)(uintptr_t)&cw_fixture_alpha + 3);
    print_address("beta", (const void*)(uintptr_t)&cw_fixture_beta);
    print_address("mangled", (const void*)(uintptr_t)&cw_fixture_mangled);
#ifdef CW_HAVE_NOSIZE
    print_address("nosize_mid", (const char*)(uintptr_t)&cw_fixture_nosize + 2);
#endif
    // PIE code takes an imported function's address from the GOT: the real libc address.
    print_address("getpid", (const void*)(uintptr_t)&getpid);
    printf("ready\n");
    fflush(stdout);

    char buf[64];
    while (read(STDIN_FILENO, buf, sizeof buf) > 0) {
    }
    return cw_fixture_beta(1) + cw_fixture_mangled(1) > 0 ? 0 : 1;
}
