/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Frame-pointer mode's user stacks, and their memo. The kernel's walk (bpf_get_stackid(): for
 * each frame from rbp it reads the next frame's address and a return address, until an address
 * it refuses, a read that faults or the depth; then it hashes the stack and compares it in its
 * bucket) and the search for the syscall wrapper's caller (user_leaf_caller()) were most of an
 * opening's cost. Their answers follow from the registers, the address space and the words they
 * read: an opening whose words hold what an earlier one's held, at the same registers, takes
 * that one's stack id and caller after one read of the stack and a compare (memo_holds(), as
 * dwarf mode's memo does); one where only the words the caller search passed over differ takes
 * the stack id and searches for its caller alone (fp_search_caller()). The registers are read
 * as x86-64's; elsewhere every opening walks.
 */
#pragma once

#include "common.bpf.h"
#include "events.bpf.h"
#include "maps.bpf.h"
#include "task.bpf.h"
#include "user_stack.bpf.h"

/* The walk as the kernel's: with no memo, or where one cannot be made. */
static __always_inline void walk_user_stack(void* ctx, struct cw_origin* origin,
                                            struct pt_regs* regs, const bool recent) {
    origin->user_stack_id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
    if (origin->user_stack_id < 0) count(CW_CNT_USER_STACK_LOST);
    origin->leaf_caller = user_leaf_caller(regs, recent);
}

#if defined(__TARGET_ARCH_x86)
/* Frames the kernel reads at most: the stack map's entries hold rip, then a return address per
 * frame. Fewer when kernel.perf_event_max_stack is lower: the memo then compares more words
 * than the kernel read, which can only cost a match. */
#define FP_MEMO_FRAMES (CW_MAX_STACK_DEPTH - 1)
/* A frame at an address in the first page ends the kernel's walk: its read faults (nothing is
 * mapped there unless root set vm.mmap_min_addr to 0 and a process with CAP_SYS_RAWIO mapped
 * it). Nor does the kernel read a frame from 2^56 on: access_ok() refuses it in either paging
 * mode. Other addresses may be readable later: a walk that faults there is not memoized. */
#define FP_FRAME_MIN 4096
#define FP_FRAME_END (1ULL << 56)
/* x86-64's __USER_CS: a 32-bit task's frames are walked otherwise (perf_callchain_user32()). */
#define USER_CS_64 0x33
/* Openings of the same registers that take the kernel's walk alone after a walk that could not
 * be memoized (more frames away from the stack than a memo holds, or a fault). */
#define FP_MEMO_RETRY_IN 16

/* A walk of the frame-pointer chain from rbp, noting in `memo` where the kernel reads. */
struct fp_walk {
    struct fp_memo* memo;
    __u64 sp;
    __u64 frame;  /* the next frame's address */
    __u32 frames; /* read so far */
    __u32 ended;  /* the kernel's walk stops where this one did, having read only what it noted */
};

/* Notes a frame's two words at offset `at` from sp, 0 when the memo has no room left. */
static __always_inline int fp_note_near(struct fp_memo* memo, __u64 at, const __u64 words[2]) {
    __u32 n = memo->stack.words;

    if (n > CW_UNWIND_MEMO_WORDS - 2) return 0;
    n &= CW_UNWIND_MEMO_WORDS - 1; /* for the verifier: changes nothing after the check */
    memo->stack.offsets[n] = at;
    memo->stack.values[n] = words[0];
    n = (n + 1) & (CW_UNWIND_MEMO_WORDS - 1);
    memo->stack.offsets[n] = at + 8;
    memo->stack.values[n] = words[1];
    memo->stack.words = n + 1;
    if (at + 16 > memo->stack.span) memo->stack.span = at + 16;
    return 1;
}

/* Notes a frame read away from the stack words, 0 when the memo has no room left. */
static __always_inline int fp_note_far(struct fp_memo* memo, __u64 frame, const __u64 words[2]) {
    __u32 k = memo->far_frames;

    if (k >= FP_MEMO_FAR_FRAMES) return 0;
    k &= FP_MEMO_FAR_FRAMES - 1;
    memo->far_at[k] = frame;
    memo->far_words[k][0] = words[0];
    memo->far_words[k][1] = words[1];
    memo->far_frames = k + 1;
    return 1;
}

/* One frame of the walk, read as perf_callchain_user() reads it. 1: the walk is over. */
static __always_inline long fp_walk_frame(struct fp_walk* w) {
    __u64 frame = w->frame, words[2], at;

    if (frame < FP_FRAME_MIN || frame >= FP_FRAME_END) {
        w->ended = 1;
        return 1;
    }
    if (bpf_probe_read_user(words, sizeof(words), (const void*)frame)) return 1;
    at = frame - w->sp;
    if (frame >= w->sp && at <= CW_MAX_USER_STACK_BYTES - sizeof(words) && !(at & 7)) {
        if (!fp_note_near(w->memo, at, words)) return 1;
    } else if (!fp_note_far(w->memo, frame, words)) {
        return 1;
    }
    w->frame = words[0];
    if (++w->frames < FP_MEMO_FRAMES) return 0;
    w->ended = 1;
    return 1;
}

static long fp_walk_step(__u64 i, void* data) {
    (void)i;
    return fp_walk_frame(data);
}

/* Whether the kernel walks this task's user stack as fp_walk_frame() does, from nothing but its
 * registers and memory: a 64-bit user task with no uprobe state (a uretprobe's trampoline, on
 * the stack in place of a return address, is replaced by the address the task's uprobe state
 * keeps). */
static __always_inline bool fp_memoizable(struct task_struct* task, struct pt_regs* regs,
                                          const bool recent) {
    if (KREAD(recent, regs, cs) != USER_CS_64 ||
        (KREAD(recent, task, flags) & (PF_KTHREAD | PF_IO_WORKER)))
        return false;
    return !bpf_core_field_exists(task->utask) || !KREAD(recent, task, utask);
}

/* How much of a memo holds in an opening's stack: nothing, the walk (its stack id), or the walk
 * and the caller search (its caller too). The caller search's words apart: a syscall wrapper
 * keeps its arguments (a descriptor among them) in the words it passes over, so the walk holds
 * for many more openings than its caller. */
enum fp_memo_match {
    FP_MEMO_NONE = 0,
    FP_MEMO_WALK = 1,
    FP_MEMO_WHOLE = 2,
};

_Static_assert(FP_MEMO_CALLER_WORDS == CW_LEAF_CALLER_WORDS, "a memo holds every word searched");

/* Whether the first `used` of the caller search's words `read` are those `kept`. */
static __always_inline bool caller_words_same(const __u64* read, const __u64* kept, __u32 used) {
#pragma unroll
    for (__u32 i = 0; i < FP_MEMO_CALLER_WORDS; i++) {
        if (i >= used) break;
        if (read[i] != kept[i]) return false;
    }
    return true;
}

/* Whether the caller search's words hold, in the stack memo_holds() read from sp into the
 * per-CPU scratch (span bytes, which cover them: fp_walk_and_memoize()). */
static __always_inline bool fp_caller_words_hold(const struct fp_memo* memo) {
    struct memo_scratch* scratch;
    __u32 zero = 0;

    scratch = bpf_map_lookup_elem(&memo_scratch, &zero);
    if (!scratch || memo->stack.span < memo->caller_words_used * sizeof(__u64)) return false;
    return caller_words_same((const __u64*)scratch->bytes, memo->caller_words,
                             memo->caller_words_used);
}

/* How much of `memo`, of this generation, process and address space, holds in this stack. */
static __always_inline enum fp_memo_match fp_memo_holds(struct fp_memo* memo,
                                                        const struct user_state* state,
                                                        __u64 task_start_ns, __u32 generation,
                                                        const bool recent) {
    if (memo->generation != generation || memo->stack.task_start_ns != task_start_ns ||
        memo->stack.mm != state->mm || !memo->caller_words_used ||
        !memo_holds(&memo->stack, state->key.sp, recent))
        return FP_MEMO_NONE;
#pragma unroll
    for (__u32 k = 0; k < FP_MEMO_FAR_FRAMES; k++) {
        __u64 words[2];

        if (k >= memo->far_frames) break;
        if (bpf_probe_read_user(words, sizeof(words), (const void*)memo->far_at[k]) ||
            words[0] != memo->far_words[k][0] || words[1] != memo->far_words[k][1])
            return FP_MEMO_NONE;
    }
    return fp_caller_words_hold(memo) ? FP_MEMO_WHOLE : FP_MEMO_WALK;
}

/* Copies memo `from` into `to` (its stack words as memo_copy() does); false when `to` holds
 * nothing whole. */
static __always_inline bool fp_memo_copy(struct fp_memo* to, const struct fp_memo* from) {
    if (!memo_copy(&to->stack, &from->stack)) return false;
#pragma unroll
    for (__u32 k = 0; k < FP_MEMO_FAR_FRAMES; k++) {
        to->far_at[k] = from->far_at[k];
        to->far_words[k][0] = from->far_words[k][0];
        to->far_words[k][1] = from->far_words[k][1];
    }
#pragma unroll
    for (__u32 i = 0; i < FP_MEMO_CALLER_WORDS; i++) to->caller_words[i] = from->caller_words[i];
    to->leaf_caller = from->leaf_caller;
    to->user_stack_id = from->user_stack_id;
    to->far_frames = from->far_frames;
    to->generation = from->generation;
    to->retry_in = 0;
    to->caller_words_used = from->caller_words_used;
    return true;
}

/* The caller of an opening whose walk a memo answered: an earlier search's on this CPU when the
 * words it read hold (same process, address space and registers), else searched again. */
static __always_inline __u64 fp_search_caller(const struct user_state* state, __u64 task_start_ns,
                                              const bool recent) {
    __u64 words[CW_LEAF_CALLER_WORDS], sp = state->key.sp, ip = state->key.ip, caller, mixed;
    __u32 index, inspected;
    struct fp_caller* known;

    if (bpf_probe_read_user(words, sizeof(words), (const void*)sp)) return cw_leaf_caller(sp, ip);
    /* By the registers and the first words too: the few descriptors a thread cycles through
     * each keep a slot of their own. */
    mixed = (ip ^ (sp >> 4) ^ words[0] ^ words[1] ^ words[2] ^ words[3]) * 0x9e3779b97f4a7c15ULL;
    index = (__u32)(mixed >> 60) & (FP_CALLERS - 1);
    known = bpf_map_lookup_elem(&fp_callers, &index);
    if (known && known->words_used && known->ip == ip && known->sp == sp &&
        known->mm == state->mm && known->task_start_ns == task_start_ns &&
        caller_words_same(words, known->words, known->words_used))
        return known->leaf_caller;
    caller = leaf_caller_in(words, sp, ip, &inspected, recent);
    count(CW_CNT_FP_MEMO_CALLER_SEARCHES);
    if (!known) return caller;
    known->task_start_ns = task_start_ns;
    known->mm = state->mm;
    known->ip = ip;
    known->sp = sp;
#pragma unroll
    for (__u32 i = 0; i < CW_LEAF_CALLER_WORDS; i++) known->words[i] = words[i];
    known->leaf_caller = caller;
    known->words_used = inspected;
    return caller;
}

/* The kernel's walk and the caller search, each noting what it read in the per-CPU memo, which
 * is stored when the whole walk was noted. `generation`: read before the walk. */
static __always_inline void fp_walk_and_memoize(void* ctx, struct cw_origin* origin,
                                                const struct user_state* state, __u32 generation,
                                                const bool recent) {
    __u64 words[CW_LEAF_CALLER_WORDS];
    struct fp_walk walk = {.sp = state->key.sp, .frame = state->key.bp};
    struct fp_memo* memo;
    __u32 zero = 0, inspected;

    origin->leaf_caller = leaf_caller_of(state->key.sp, state->key.ip, words, &inspected, recent);
    memo = bpf_map_lookup_elem(&fp_memo_scratch, &zero);
    if (memo) {
#pragma unroll
        for (__u32 i = 0; i < CW_LEAF_CALLER_WORDS; i++) memo->caller_words[i] = words[i];
        memo->caller_words_used = inspected;
        /* The read that compares the walk's words takes the search's too. */
        memo->stack.words = 0;
        memo->stack.span = inspected * sizeof(__u64);
        memo->far_frames = 0;
        walk.memo = memo;
        /* Its frames before the kernel's: pages it read are in memory for the kernel's reads,
         * which fault rather than wait (a walk that stopped on a fault is not memoized). */
        if (inspected) {
            if (recent) {
                bpf_loop(FP_MEMO_FRAMES, fp_walk_step, &walk, 0);
            } else {
                for (__u32 i = 0; i < FP_MEMO_FRAMES; i++)
                    if (fp_walk_frame(&walk)) break;
            }
        }
    }
    origin->user_stack_id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
    if (origin->user_stack_id < 0) count(CW_CNT_USER_STACK_LOST);
    if (!memo) return;
    memo->stack.task_start_ns = origin->task_start_ns;
    memo->stack.mm = state->mm;
    memo->stack.unwound_id = 0;
    memo->leaf_caller = origin->leaf_caller;
    memo->user_stack_id = origin->user_stack_id;
    memo->generation = generation;
    memo->retry_in = 0;
    if (!walk.ended || origin->user_stack_id < 0) {
        memo->caller_words_used = 0; /* answers nothing: spares the next few openings the walk */
        memo->retry_in = FP_MEMO_RETRY_IN;
    }
    bpf_map_update_elem(&fp_memos, &state->key, memo, BPF_ANY);
}
#endif

/* Frame-pointer mode: the opening's user stack id and caller, from a memo whose words hold in
 * this stack, else walked (and memoized when the walk can be). `state`: the registers.
 * `generation`: stack_generation, read before anything named a stack id. Whether a memo of that
 * generation named the stack id; `*slot`: this CPU's copy of it, when it has one. */
static __always_inline bool fp_user_stack(void* ctx, struct task_struct* task, struct pt_regs* regs,
                                          struct cw_origin* origin, const struct user_state* state,
                                          __u32 generation, struct recent_memo** slot,
                                          const bool recent) {
#if defined(__TARGET_ARCH_x86)
    enum fp_memo_match match;
    struct recent_memo* known;
    struct fp_memo* memo;

    if (!fp_memoizable(task, regs, recent)) {
        walk_user_stack(ctx, origin, regs, recent);
        return false;
    }
    known = recent_memo_of(&state->key);
    match = known ? fp_memo_holds(&known->memo, state, origin->task_start_ns, generation, recent)
                  : FP_MEMO_NONE;
    if (match != FP_MEMO_NONE) {
        memo = &known->memo;
        *slot = known;
    } else {
        memo = bpf_map_lookup_elem(&fp_memos, &state->key);
        match = memo ? fp_memo_holds(memo, state, origin->task_start_ns, generation, recent)
                     : FP_MEMO_NONE;
        if (match != FP_MEMO_NONE) {
            known = recent_memo_slot(&state->key);
            if (known && fp_memo_copy(&known->memo, memo)) {
                known->key = state->key;
                *slot = known;
            }
        }
    }
    if (match != FP_MEMO_NONE) {
        origin->user_stack_id = memo->user_stack_id;
        origin->leaf_caller = memo->leaf_caller;
        count(CW_CNT_FP_MEMO_HITS);
        /* The walk holds, not its caller search's words: the search alone. */
        if (match == FP_MEMO_WALK)
            origin->leaf_caller = fp_search_caller(state, origin->task_start_ns, recent);
        return true;
    }
    count(CW_CNT_FP_MEMO_MISSES);
    if (memo && !memo->caller_words_used && memo->retry_in && memo->generation == generation &&
        memo->stack.task_start_ns == origin->task_start_ns) {
        memo->retry_in--; /* racing CPUs may lose a step: a retry comes a little later */
        walk_user_stack(ctx, origin, regs, recent);
        return false;
    }
    fp_walk_and_memoize(ctx, origin, state, generation, recent);
    return false;
#else
    (void)task;
    (void)state;
    (void)generation;
    (void)slot;
    walk_user_stack(ctx, origin, regs, recent);
    return false;
#endif
}
