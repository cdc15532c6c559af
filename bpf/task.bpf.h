/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reads of the current task: its user registers and what they tell (the syscall under way, the
 * caller a frame-pointer walk misses), and its process's start time, which tells a process from
 * a later one given the same pid.
 */
#pragma once

#include "common.bpf.h"

#include <bpf/bpf_tracing.h> /* after vmlinux.h: it needs its types */

#define CW_READ_USER(dst, size, addr) bpf_probe_read_user(dst, size, (const void*)(addr))
#include "cwtrace/call_insn.h"

/* The kernel stack's size (x86-64 and arm64 without KASAN, as distributions build them): the user
 * registers sit at its top. */
#define KERNEL_THREAD_SIZE 16384

/* The user registers of task `task`: bpf_task_pt_regs() when `recent` (5.15+; as a typed
 * pointer its fields are read directly, no helper call each); before, the address
 * task_pt_regs() computes, its fields read through helper calls. */
static __always_inline struct pt_regs* user_regs(struct task_struct* task, const bool recent) {
    if (recent) return (struct pt_regs*)bpf_task_pt_regs(task);
    return (struct pt_regs*)((__u64)BPF_CORE_READ(task, stack) + KERNEL_THREAD_SIZE) - 1;
}

#if defined(bpf_target_x86)
/* No user code below this (the kernel's default mmap_min_addr): a word under it is no return
 * address, and reading code before it would fault, which costs more than any read that works. */
#define USER_CODE_MIN 65536
/* A word pointing this near the stack pointer points into the stack, which holds no code. */
#define STACK_NEAR (1 << 20)

/* bpf_find_vma()'s callback: whether a mapping was found is all that is asked, which its return
 * value tells. */
static long any_vma(struct task_struct* task, struct vm_area_struct* vma, void* ctx) {
    (void)task;
    (void)vma;
    (void)ctx;
    return 0;
}

/* Whether nothing is mapped at `addr` in the current task's address space (5.17+): a read there
 * faults, which costs microseconds on some VMs (an exception each; a descriptor kept on the
 * stack is such a word), where looking costs a tree walk. Not known (false) while the lock on
 * the address space is held for writing: the read then tells. */
static __always_inline bool unmapped_user_address(__u64 addr, const bool recent) {
    if (!recent) return false;
    return bpf_find_vma(bpf_get_current_task_btf(), addr, any_vma, NULL, 0) == -2 /* ENOENT */;
}

/* cw_leaf_caller() over the CW_LEAF_CALLER_WORDS words above `sp`, read already (`words`),
 * passing over without reading the code before them the words no return address can be.
 * `*inspected`: how many of those words the answer follows from (the search stops at the first
 * caller). */
static __always_inline __u64 leaf_caller_in(const __u64 words[CW_LEAF_CALLER_WORDS], __u64 sp,
                                            __u64 ip, __u32* inspected, const bool recent) {
    *inspected = CW_LEAF_CALLER_WORDS;
    /* Unrolled: constant offsets into the array, as older verifiers want on the stack. */
#pragma unroll
    for (__u32 i = 0; i < CW_LEAF_CALLER_WORDS; i++) {
        __u64 word = words[i];

        if (word < USER_CODE_MIN || word - sp < STACK_NEAR || sp - word < STACK_NEAR) continue;
        if (unmapped_user_address(word - CW_CALL_WINDOW, recent)) continue;
        if (cw_calls_current_function(word, ip, i == 0)) {
            *inspected = i + 1;
            return word;
        }
    }
    return 0;
}

/* leaf_caller_in() with the words read in one go (a read per word was most of a frame-pointer
 * mode opening's cost) into `words`; `*inspected` 0 when that read failed (the stack's top
 * within those words): then word by word as cw_leaf_caller() does. */
static __always_inline __u64 leaf_caller_of(__u64 sp, __u64 ip, __u64 words[CW_LEAF_CALLER_WORDS],
                                            __u32* inspected, const bool recent) {
    *inspected = 0;
    if (bpf_probe_read_user(words, CW_LEAF_CALLER_WORDS * sizeof(__u64), (const void*)sp))
        return cw_leaf_caller(sp, ip);
    return leaf_caller_in(words, sp, ip, inspected, recent);
}
#endif

/* The return address into the caller of the syscall wrapper the thread is in, 0 when none is
 * found (cw_leaf_caller()). Code already ran there, so the pages it reads are in memory.
 * Userspace checks the address again in the mapped file. */
static __always_inline __u64 user_leaf_caller(struct pt_regs* regs, const bool recent) {
#if defined(bpf_target_x86)
    __u64 words[CW_LEAF_CALLER_WORDS];
    __u32 inspected;

    if (recent) return leaf_caller_of(PT_REGS_SP(regs), PT_REGS_IP(regs), words, &inspected, true);
    return leaf_caller_of(PT_REGS_SP_CORE(regs), PT_REGS_IP_CORE(regs), words, &inspected, false);
#else
    (void)regs; /* the return address is in a register (lr), not on the stack */
    (void)recent;
    return 0;
#endif
}

/* The number of the syscall the current task is in (its user registers), 0 when unknown. */
static __always_inline __u32 syscall_nr(struct pt_regs* regs, const bool recent) {
#if defined(bpf_target_x86)
    return (__u32)KREAD(recent, regs, orig_ax);
#elif defined(bpf_target_arm64)
    return (__u32)KREAD(recent, regs, syscallno);
#else
    return 0;
#endif
}

/* The thread group leader's start time since boot, as /proc/PID/stat shows it. */
static __always_inline __u64 task_start_ns(struct task_struct* task, const bool recent) {
    return KREAD(recent, task, group_leader, start_boottime);
}
