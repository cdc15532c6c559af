/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * x86-64 call instructions seen from the return address they pushed, shared by both sides so
 * that they agree on what "follows a call" means: the kernel side looks near the user stack
 * pointer for the return address into a frameless syscall wrapper's caller (a frame-pointer walk
 * skips that caller), and userspace confirms it in the mapped file. The search reads user memory
 * through CW_READ_USER(dst, size, addr) (0 on success), which the includer defines: the kernel
 * side as bpf_probe_read_user(), the unit tests over a made-up address space.
 */
#ifndef CWTRACE_CALL_INSN_H
#define CWTRACE_CALL_INSN_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define CW_INLINE static inline __attribute__((always_inline))

#define CW_CALL_WINDOW 8 /* bytes just before a return address that hold its call */
#define CW_PLT_WINDOW 12 /* bytes of a PLT entry that hold its jump */

/* What the bytes before a return address say of the call that pushed it. */
enum cw_call_kind {
    CW_CALL_NONE = 0,     /* no call instruction ends there */
    CW_CALL_REL32 = 1,    /* call rel32: `at` is the callee (or its PLT entry) */
    CW_CALL_RIP_SLOT = 2, /* call *disp32(%rip): `at` is the slot holding the callee (-fno-plt) */
    CW_CALL_OTHER = 3,    /* another call r/m64 (through a register): the callee is unknown */
};

CW_INLINE __s32 cw_rel32(const __u8* p) {
    return (__s32)((__u32)p[0] | (__u32)p[1] << 8 | (__u32)p[2] << 16 | (__u32)p[3] << 24);
}

/* ff /2 (call r/m64) of `len` bytes ending at the return address. */
CW_INLINE int cw_is_call_rm(const __u8 code[CW_CALL_WINDOW], int len) {
    return code[CW_CALL_WINDOW - len] == 0xff && ((code[CW_CALL_WINDOW - len + 1] >> 3) & 7) == 2;
}

/* `code` holds the CW_CALL_WINDOW bytes before the return address `ret`; sets `*at` for the
 * kinds that name their callee. */
CW_INLINE __u32 cw_decode_call(const __u8 code[CW_CALL_WINDOW], __u64 ret, __u64* at) {
    if (code[3] == 0xe8) {
        *at = ret + (__s64)cw_rel32(code + 4);
        return CW_CALL_REL32;
    }
    if (code[2] == 0xff && code[3] == 0x15) {
        *at = ret + (__s64)cw_rel32(code + 4);
        return CW_CALL_RIP_SLOT;
    }
    /* The 2-, 3-, 6- and 7-byte encodings (register, disp8, disp32, with SIB). */
    if (cw_is_call_rm(code, 2) || cw_is_call_rm(code, 3) || cw_is_call_rm(code, 6) ||
        cw_is_call_rm(code, 7))
        return CW_CALL_OTHER;
    return CW_CALL_NONE;
}

/* The jump of a PLT entry `i` bytes into `code`: jmp *disp32(%rip), with a bnd prefix or not. */
CW_INLINE __u64 cw_plt_jump(const __u8 code[CW_PLT_WINDOW], int i, __u64 at) {
    if (code[i] == 0xff && code[i + 1] == 0x25) return at + i + 6 + (__s64)cw_rel32(code + i + 2);
    if (code[i] == 0xf2 && code[i + 1] == 0xff && code[i + 2] == 0x25)
        return at + i + 7 + (__s64)cw_rel32(code + i + 3);
    return 0;
}

/* The slot a PLT entry at `at` jumps through (`code`: CW_PLT_WINDOW bytes from `at`), 0 when it
 * is no PLT entry. A .plt.sec entry starts with endbr64. Constant offsets only: older verifiers
 * refuse a stack read at a variable one. */
CW_INLINE __u64 cw_plt_slot(const __u8 code[CW_PLT_WINDOW], __u64 at) {
    if (code[0] == 0xf3 && code[1] == 0x0f && code[2] == 0x1e && code[3] == 0xfa)
        return cw_plt_jump(code, 4, at);
    return cw_plt_jump(code, 0, at);
}

#ifdef CW_READ_USER
/* Words above the user stack pointer searched for the return address into a syscall wrapper's
 * caller, and how far into the wrapper its syscall may be. */
#define CW_LEAF_CALLER_WORDS 8
#define CW_LEAF_WRAPPER_BYTES 4096

/* Whether the thread at `ip` is at most CW_LEAF_WRAPPER_BYTES into the function at `entry`. */
CW_INLINE int cw_within_function(__u64 entry, __u64 ip) {
    return entry <= ip && ip - entry < CW_LEAF_WRAPPER_BYTES;
}

/* Whether `ret` is the return address of a call into the function the thread is in (at `ip`):
 * it follows a call whose callee is that function, directly, through its PLT entry or through
 * a slot (-fno-plt). A stale return address left on the stack by an earlier call names another
 * callee. A call through a register names none: taken only when `unnamed_ok`. */
CW_INLINE int cw_calls_current_function(__u64 ret, __u64 ip, int unnamed_ok) {
    __u8 code[CW_PLT_WINDOW];
    __u64 at = 0, slot = 0, entry = 0;
    __u32 kind;

    if (ret < CW_CALL_WINDOW || CW_READ_USER(code, CW_CALL_WINDOW, ret - CW_CALL_WINDOW)) return 0;
    kind = cw_decode_call(code, ret, &at);
    if (kind == CW_CALL_OTHER) return unnamed_ok;
    if (kind == CW_CALL_RIP_SLOT) slot = at;
    if (kind == CW_CALL_REL32) {
        if (cw_within_function(at, ip)) return 1;
        if (CW_READ_USER(code, CW_PLT_WINDOW, at)) return 0;
        slot = cw_plt_slot(code, at);
    }
    if (!slot || CW_READ_USER(&entry, sizeof(entry), slot)) return 0;
    return cw_within_function(entry, ip);
}

/* The return address into the caller of the syscall wrapper the thread is in (at `ip`, its
 * stack pointer at `sp`), 0 when none is found. A wrapper such as glibc's connect() sets up no
 * frame, so a frame-pointer walk skips its caller; the return address is at the stack pointer,
 * or a few words above it when the wrapper moved it (glibc's cancellable wrappers do in a
 * process with more than one thread: sub $0x28,%rsp in accept4()). */
CW_INLINE __u64 cw_leaf_caller(__u64 sp, __u64 ip) {
    /* Not unrolled: the verifier checks a bounded loop's body per iteration, but the program
     * stays small. Each word read from user memory: no stack read at a variable offset. */
#if defined(__clang__)
#pragma clang loop unroll(disable)
#endif
    for (__u32 i = 0; i < CW_LEAF_CALLER_WORDS; i++) {
        __u64 word = 0;

        if (CW_READ_USER(&word, sizeof(word), sp + i * sizeof(word))) return 0;
        if (cw_calls_current_function(word, ip, i == 0)) return word;
    }
    return 0;
}
#endif /* CW_READ_USER */

#endif /* CWTRACE_CALL_INSN_H */
