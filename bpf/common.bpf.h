/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What both BPF objects (cwtrace.bpf.c, fd_walk.bpf.c) build on: the kernel constants vmlinux.h
 * lacks (the kernel defines them as macros), the reads of kernel objects handed over as bare
 * addresses, and the read of a word of a process's memory.
 */
#pragma once

#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "cwtrace/abi.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define SOCK_STREAM 1
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define EPIPE 32
#define ECONNRESET 104
/* task_struct.flags */
#define PF_EXITING 0x00000004
#define PF_IO_WORKER 0x00000010
#define PF_KTHREAD 0x00200000

/* Three variants of each program, fixed by two constants (userspace picks one from what the
 * kernel has, user/kernel/program_plan.h):
 * - `direct`: how kernel objects handed over as bare addresses are read (below);
 * - `recent`: the kernel has bpf_loop() (5.17+), and with it bpf_get_current_task_btf() (5.11)
 *   and bpf_task_pt_regs() (5.15): the current task and its registers are typed pointers read by
 *   plain loads, and the long walks run as bpf_loop() callbacks. Without (`_compat` programs),
 *   every task field is read through bpf_probe_read_kernel(), the memo compare is a bounded loop
 *   and Python frames are not read; such a program must not even name a callback: a kernel
 *   before 5.13 refuses the object's function info then ("number of funcs in func_info doesn't
 *   match number of subprogs").
 * Direct programs are all recent; compat ones all probed. */

/* Kernel objects the programs are handed as bare addresses (the raw tracepoint's socket, a file's
 * socket) are read in one of two ways, fixed per program variant by the constant `direct`:
 * - direct (kernel 6.2+): bpf_rdonly_cast() gives the address its kernel type, and each field is
 *   one load, a fault caught by the kernel as bpf_probe_read_kernel() would (cheaper than a
 *   helper call per field);
 * - probed (older kernels): bpf_probe_read_kernel() per field.
 * Userspace loads the direct programs, and the `_probed` ones when the kernel refuses those; the
 * probed ones hold no kfunc call, which an older kernel refuses even in dead code. */
extern void* bpf_rdonly_cast(const void* obj, __u32 btf_id) __ksym __weak;

#define KCAST(direct, type, addr)                                                    \
    ((direct) ? (type*)bpf_rdonly_cast((void*)(addr), bpf_core_type_id_kernel(type)) \
              : (type*)(addr))
#define KREAD(direct, src, ...) \
    ((direct) ? ___arrow(src, __VA_ARGS__) : BPF_CORE_READ(src, __VA_ARGS__))
#define KREAD_BITFIELD(direct, src, field) \
    ((direct) ? BPF_CORE_READ_BITFIELD(src, field) : BPF_CORE_READ_BITFIELD_PROBED(src, field))

/* The current task: a typed pointer when `recent`, else an address its fields are read from
 * through KREAD(recent, ...). */
static __always_inline struct task_struct* current_task(const bool recent) {
    return recent ? bpf_get_current_task_btf() : (struct task_struct*)bpf_get_current_task();
}

/* The word at `base + offset` in the current process's memory (the runtimes' structures CPython
 * and Go programs keep there); 0 for a NULL base or a fault: another process's memory is hostile,
 * and a zero reads as "none" to every walk over it. */
static __always_inline __u64 user_read_u64(__u64 base, __u64 offset) {
    __u64 value = 0;

    if (!base || bpf_probe_read_user(&value, sizeof(value), (void*)(base + offset))) return 0;
    return value;
}
