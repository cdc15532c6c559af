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

/* The user registers of the current task (bpf_task_pt_regs(): 5.15+, as a typed pointer its
 * fields are read directly, no helper call each). */
static __always_inline struct pt_regs* user_regs(struct task_struct* task) {
    return (struct pt_regs*)bpf_task_pt_regs(task);
}

/* The return address into the caller of the syscall wrapper the thread is in, 0 when none is
 * found (cw_leaf_caller()). Code already ran there, so the pages it reads are in memory.
 * Userspace checks the address again in the mapped file. */
static __always_inline __u64 user_leaf_caller(struct pt_regs* regs) {
#if defined(bpf_target_x86)
    return cw_leaf_caller(PT_REGS_SP(regs), PT_REGS_IP(regs));
#else
    (void)regs; /* the return address is in a register (lr), not on the stack */
    return 0;
#endif
}

/* The number of the syscall the current task is in (its user registers), 0 when unknown. */
static __always_inline __u32 syscall_nr(struct pt_regs* regs) {
#if defined(bpf_target_x86)
    return (__u32)regs->orig_ax;
#elif defined(bpf_target_arm64)
    return (__u32)regs->syscallno;
#else
    return 0;
#endif
}

/* The thread group leader's start time since boot, as /proc/PID/stat shows it. */
static __always_inline __u64 task_start_ns(struct task_struct* task) {
    return task->group_leader->start_boottime;
}
