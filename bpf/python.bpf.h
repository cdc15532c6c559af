/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The Python call stack at the opening point of a socket, for CPython processes userspace has
 * registered in python_procs. The thread's PyThreadState is found by its native_thread_id in
 * the interpreter's list, not through the runtime's "current" thread state: connect() runs
 * with the GIL released, when that is NULL or another thread's. Frames are recorded as
 * (code object, instruction offset) pairs; userspace reads the code objects at report time.
 */
#ifndef CWTRACE_PYTHON_BPF_H
#define CWTRACE_PYTHON_BPF_H

#include "common.bpf.h"
#include "events.bpf.h" /* count() */

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, __u32); /* tgid */
    __type(value, struct cw_python_proc);
} python_procs SEC(".maps");

/* Set by userspace when it registers its first Python process: until then (a host running no
 * Python, a benchmark's churn) an opening skips the python_procs lookup. */
__u32 python_procs_known = 0;

/* Deduplicated Python stacks, keyed by a hash of their frames: one entry per code path. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, __u64);
    __type(value, struct cw_py_stack);
} py_stacks SEC(".maps");

/* The stack is built here: it is larger than the BPF stack. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct cw_py_stack);
} py_scratch SEC(".maps");

/* The walks run as bpf_loop() callbacks: the verifier checks each body once instead of
 * unrolling every iteration of every path, which a frame walk's branches make explode. */
struct py_thread_search {
    __u64 tstate;
    __u64 found;
    __u32 tid;
    __u16 tstate_next;
    __u16 tstate_native_thread_id;
};

static long py_thread_step(__u64 index, void* data) {
    struct py_thread_search* s = data;
    __u64 native_id;

    if (!s->tstate) return 1;
    native_id = user_read_u64(s->tstate, s->tstate_native_thread_id);
    if (native_id == s->tid) {
        s->found = s->tstate;
        return 1;
    }
    s->tstate = user_read_u64(s->tstate, s->tstate_next);
    return 0;
}

/* The PyThreadState of thread `tid`, or 0. */
static __always_inline __u64 py_thread_state(const struct cw_python_proc* py, __u32 tid) {
    __u64 interp = user_read_u64(py->runtime_addr, py->runtime_interp_head);
    struct py_thread_search s = {
        .tstate = user_read_u64(interp, py->interp_threads_head),
        .tid = tid,
        .tstate_next = py->tstate_next,
        .tstate_native_thread_id = py->tstate_native_thread_id,
    };

    bpf_loop(CW_PY_MAX_THREADS, py_thread_step, &s, 0);
    return s.found;
}

static __always_inline __u64 py_current_frame(const struct cw_python_proc* py, __u64 tstate) {
    __u64 holder = tstate;

    if (py->tstate_cframe != CW_PY_NO_OFFSET) holder = user_read_u64(tstate, py->tstate_cframe);
    return user_read_u64(holder, py->cframe_current_frame);
}

static __always_inline __u64 py_mix(__u64 hash, __u64 value) {
    return (hash ^ value) * 0x100000001b3ULL; /* FNV-1a's prime, word at a time */
}

/* The depth lives in the scratch map, not here: a counter the verifier can see would make
 * every iteration a distinct state (no pruning), one known to it only as a bounded unknown
 * converges at once. */
struct py_frame_walk {
    __u64 frame;
    __u64 hash;
    __u16 frame_code, frame_previous, frame_prev_instr, code_adaptive;
};

static long py_frame_step(__u64 index, void* data) {
    struct py_frame_walk* w = data;
    struct cw_py_stack* stack;
    __u32 zero = 0, depth;
    __u64 code, instr, first;

    if (!w->frame) return 1;
    code = user_read_u64(w->frame, w->frame_code);
    instr = user_read_u64(w->frame, w->frame_prev_instr);
    first = code + w->code_adaptive;
    w->frame = user_read_u64(w->frame, w->frame_previous);
    /* A frame still being set up points before its first instruction: CPython skips it. */
    if (!code || instr < first || instr - first >= (1ULL << 31)) return 0;
    stack = bpf_map_lookup_elem(&py_scratch, &zero);
    if (!stack) return 1;
    depth = stack->depth;
    if (depth >= CW_PY_MAX_FRAMES) {
        stack->truncated = 1;
        return 1;
    }
    stack->frames[depth].code = code;
    stack->frames[depth].offset = (__u32)(instr - first);
    stack->frames[depth].pad = 0;
    stack->depth = depth + 1;
    w->hash = py_mix(py_mix(w->hash, code), instr - first);
    return 0;
}

/* Walks the frame chain into the scratch stack; returns the stack's hash. */
static __always_inline __u64 py_walk_frames(const struct cw_python_proc* py, __u64 frame,
                                            struct cw_py_stack* stack) {
    struct py_frame_walk w = {
        .frame = frame,
        .hash = 0xcbf29ce484222325ULL, /* FNV-1a's offset basis */
        .frame_code = py->frame_code,
        .frame_previous = py->frame_previous,
        .frame_prev_instr = py->frame_prev_instr,
        .code_adaptive = py->code_adaptive,
    };

    stack->depth = 0;
    stack->truncated = 0;
    /* Twice the frames kept: skipped frames count too, and a truncated walk must see one more. */
    bpf_loop(CW_PY_MAX_FRAMES * 2, py_frame_step, &w, 0);
    return py_mix(w.hash, stack->depth);
}

/* Fills the origin's py_status and py_stack_id. Costs one map lookup for other processes.
 * Without bpf_loop (not `recent`) none are read: the walks exist as bpf_loop() callbacks only
 * (userspace says so once: program_plan.cpp). */
static __always_inline void py_capture(struct cw_origin* origin, const bool recent) {
    struct cw_python_proc* py;
    struct cw_py_stack* stack;
    __u32 zero = 0;
    __u64 tstate, frame, hash;
    long err;

    origin->py_status = CW_PY_NONE;
    origin->py_stack_id = 0;
    if (!recent || !python_procs_known) return;
    py = bpf_map_lookup_elem(&python_procs, &origin->pid);
    if (!py) return;
    /* A stale entry of an exited process whose pid was reused. */
    if (!py->ns_per_tick || origin->task_start_ns / py->ns_per_tick != py->start_ticks) return;

    tstate = py_thread_state(py, origin->tid);
    if (!tstate) {
        origin->py_status = CW_PY_NO_THREAD;
        count(CW_CNT_PY_NO_THREAD);
        return;
    }
    stack = bpf_map_lookup_elem(&py_scratch, &zero);
    frame = py_current_frame(py, tstate);
    if (!stack || !frame) goto lost;
    hash = py_walk_frames(py, frame, stack);
    if (stack->depth == 0) goto lost;
    err = bpf_map_update_elem(&py_stacks, &hash, stack, BPF_NOEXIST);
    if (err && err != -17 /* EEXIST: the same path, already stored */) goto lost;
    origin->py_status = CW_PY_CAPTURED;
    origin->py_stack_id = hash;
    return;
lost:
    origin->py_status = CW_PY_LOST;
    count(CW_CNT_PY_STACK_LOST);
}

#endif /* CWTRACE_PYTHON_BPF_H */
