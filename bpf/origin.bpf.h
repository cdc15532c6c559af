/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A socket's opener (struct cw_origin), taken in process context inside connect() or at
 * accept()'s return: the thread, its user and kernel stacks (or the memo that names its user
 * stack), its Python frames, its goroutine's creator, and the announcement of its process to
 * userspace, which then snapshots the process's mappings while it lives.
 */
#pragma once

#include "common.bpf.h"
#include "events.bpf.h"
#include "fp_memo.bpf.h"
#include "go.bpf.h"
#include "maps.bpf.h"
#include "python.bpf.h"
#include "sock.bpf.h"
#include "task.bpf.h"
#include "user_stack.bpf.h"

static __always_inline void announce_process(__u32 pid, __u64 task_start_ns) {
    __u32 zero = 0;
    struct last_announced* last = bpf_map_lookup_elem(&last_announced, &zero);
    struct cw_event_process* event;
    __u64* known;

    if (last && last->pid == pid && last->task_start_ns == task_start_ns) return;
    known = bpf_map_lookup_elem(&announced, &pid);
    if (known && *known == task_start_ns) {
        if (last) {
            last->pid = pid;
            last->task_start_ns = task_start_ns;
        }
        return;
    }
    event = reserve_or_count(&events, sizeof(*event), CW_CNT_RINGBUF_FULL);
    if (!event) return; /* not remembered: the next socket of this process tries again */
    /* Its own clock read (an opening's time may be a bound in the past): once a process. */
    fill_header(&event->hdr, CW_EV_PROCESS, sizeof(*event), 0, bpf_ktime_get_ns());
    event->task_start_ns = task_start_ns;
    event->pid = pid;
    event->pad = 0;
    bpf_ringbuf_submit(event, submit_flags());
    bpf_map_update_elem(&announced, &pid, &task_start_ns, BPF_ANY);
}

static __always_inline bool same_kernel_path(const struct kernel_path_key* a,
                                             const struct kernel_path_key* b) {
    return a->user_stack_id == b->user_stack_id && a->unwound_id == b->unwound_id &&
           a->syscall_nr == b->syscall_nr && a->family == b->family && a->protocol == b->protocol &&
           a->kind == b->kind;
}

/* What the kernel path of a connect() follows from. The user path is named by its
 * frame-pointer stack id, or in dwarf mode by the unwound stack an unwind memo matched.
 * `generation`: stack_generation, read before the user stack was taken. `slot`: this CPU's copy
 * of the memo that named the user stack (NULL: none), which keeps the last kernel path found
 * with it. */
static __always_inline __s32 connect_kernel_stack(void* ctx, struct task_struct* task,
                                                  struct pt_regs* regs,
                                                  const struct cw_origin* origin,
                                                  const struct sock* sk, __u32 generation,
                                                  struct recent_memo* slot, const bool direct,
                                                  const bool recent) {
    struct kernel_path_key key = {};
    struct kernel_path* known;
    __s32 id;

    /* Kernel threads and io_uring workers reach connect() by other paths: always walk. */
    if ((origin->user_stack_id < 0 && !origin->unwound_id) ||
        (KREAD(recent, task, flags) & (PF_KTHREAD | PF_IO_WORKER)))
        return bpf_get_stackid(ctx, &stacks, 0);
    key.user_stack_id = origin->unwound_id ? -1 : origin->user_stack_id;
    key.unwound_id = origin->unwound_id;
    key.syscall_nr = syscall_nr(regs, recent);
    key.family = KREAD(direct, sk, __sk_common.skc_family);
    key.protocol = KREAD_BITFIELD(direct, sk, sk_protocol);
    key.kind = CW_ORIGIN_CONNECT;
    if (slot && slot->path.generation == generation && same_kernel_path(&slot->path_key, &key))
        return slot->path.stack_id;
    known = bpf_map_lookup_elem(&kernel_paths, &key);
    if (known && known->generation == generation) {
        id = known->stack_id;
    } else {
        struct kernel_path path;

        id = bpf_get_stackid(ctx, &stacks, 0);
        if (id < 0) return id;
        path.stack_id = id;
        path.generation = generation;
        bpf_map_update_elem(&kernel_paths, &key, &path, BPF_ANY);
    }
    if (slot) {
        slot->path_key = key;
        slot->path.stack_id = id;
        slot->path.generation = generation;
    }
    return id;
}

/* The opening's time: the clock's, or when a memo named the user stack (no stack copy to match
 * by socket and time), a time that serves without a clock read, a third of a churning
 * connection's cost on some VMs. Then no earlier than the deletions that began the stack
 * generation read (`generation_ns`, read before the generation) and no later than now, so that
 * StackIdLedger finds no id of that generation stale and finds stale every id deleted after it
 * (an opening racing a recycling loses its kernel stack, as one that read the clock before the
 * deletion was counted did already). For a connect(), that bound itself: the time is not
 * reported, only vetted. For an accept(), its socket's last segment (received_ns(): the
 * handshake's as a rule, a little earlier than the accept) when later, as it may also say since
 * when an accepted socket is in CLOSE_WAIT. A memo of the current generation named a
 * frame-pointer stack id (`fp_memo_named`), or an unwind memo the user stack (`unwound_id`:
 * unwound ids are never reused, only a kernel stack id is vetted). */
static __always_inline __u64 opened_ns(const struct cw_origin* origin, const struct sock* sk,
                                       bool fp_memo_named, __u64 generation_ns, const bool direct) {
    __u64 received;

    if (!origin->unwound_id && !fp_memo_named) return bpf_ktime_get_ns();
    if (origin->kind != CW_ORIGIN_ACCEPT) return generation_ns + 1;
    received = received_ns(sk, direct);
    return received > generation_ns ? received : generation_ns + 1;
}

/* `state`: the registers the user stack is taken from, filled for dwarf mode's stack copy and
 * either mode's memo. */
static __always_inline void fill_origin(void* ctx, struct cw_origin* origin, __u32 kind,
                                        const struct sock* sk, struct user_state* state,
                                        const bool direct, const bool recent) {
    struct task_struct* task = current_task(recent);
    struct pt_regs* regs = user_regs(task, recent);
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    /* Read before anything names a stack id: see stack_generation. Its time first. */
    __u64 generation_ns = *(volatile __u64*)&stack_generation_ns;
    __u32 generation = *(volatile __u32*)&stack_generation;
    struct recent_memo* slot = NULL; /* this CPU's copy of the memo that named the user stack */
    bool fp_memo_named = false;

    origin->pid = pid_tgid >> 32;
    origin->tid = (__u32)pid_tgid;
    origin->kind = kind;
    if (recent)
        __builtin_memcpy(origin->comm, task->comm, sizeof(origin->comm)); /* no helper call */
    else
        bpf_get_current_comm(origin->comm, sizeof(origin->comm));
    origin->task_start_ns = task_start_ns(task, recent);
#if defined(__TARGET_ARCH_x86)
    state->key.pid = origin->pid;
    state->key.ip = KREAD(recent, regs, ip);
    state->key.sp = KREAD(recent, regs, sp);
    state->key.bp = KREAD(recent, regs, bp);
    state->mm = (__u64)KREAD(recent, task, mm);
#endif
    if (user_stack_mode == CW_USER_STACKS_DWARF && memo_matches(state, origin, &slot, recent)) {
        /* The unwound stack is known: the frame-pointer walk, its fallback, is not needed. */
        origin->user_stack_id = CW_STACK_NOT_TAKEN;
        origin->leaf_caller = 0;
    } else if (user_stack_mode == CW_USER_STACKS_FP) {
        fp_memo_named = fp_user_stack(ctx, task, regs, origin, state, generation, &slot, recent);
    } else {
        walk_user_stack(ctx, origin, regs, recent);
    }
    origin->opened_ns = opened_ns(origin, sk, fp_memo_named, generation_ns, direct);
    if (kind == CW_ORIGIN_CONNECT) {
        origin->kernel_stack_id =
            connect_kernel_stack(ctx, task, regs, origin, sk, generation, slot, direct, recent);
        if (origin->kernel_stack_id < 0) count(CW_CNT_KERNEL_STACK_LOST);
    } else {
        /* At accept()'s syscall exit the kernel stack is only the exit path: not worth a walk. */
        origin->kernel_stack_id = CW_STACK_NOT_TAKEN;
    }
    py_capture(origin, recent);
    go_capture(origin, regs, recent);
    announce_process(origin->pid, origin->task_start_ns);
}
