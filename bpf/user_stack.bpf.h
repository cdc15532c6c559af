/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Dwarf mode's user stacks: a copy of the stack at an opening, for userspace to unwind code
 * built without frame pointers with its CFI, and the kernel side of the unwind memo that spares
 * the copy when an opening would unwind as an earlier one did (its compare serves frame-pointer
 * mode's memo too: fp_memo.bpf.h). The registers are read as x86-64's; elsewhere the
 * frame-pointer stack stands alone.
 */
#pragma once

#include "common.bpf.h"
#include "events.bpf.h"
#include "maps.bpf.h"

/* What an opening's user stack is taken from, the registers and address space: the key of
 * either mode's memo, and what dwarf mode's copy is unwound from. */
struct user_state {
    struct cw_unwind_memo_key key; /* pid, ip, sp, bp */
    __u64 mm;
};

#if defined(__TARGET_ARCH_x86)
/* Words of a memo compared inline, before a bpf_loop() over the rest. */
#define MEMO_INLINE_WORDS 8

/* Whether word `i` of a memo holds in the stack read (`span` bytes from sp). */
static __always_inline bool memo_word_holds(const struct cw_unwind_memo* memo,
                                            const struct memo_scratch* scratch, __u32 span,
                                            __u32 i) {
    /* Userspace writes multiples of 8 below span; the mask keeps the verifier's bound. */
    __u32 offset = memo->offsets[i] & (CW_MAX_USER_STACK_BYTES - 8);

    return offset + 8 <= span && *(__u64*)(scratch->bytes + offset) == memo->values[i];
}

struct memo_compare {
    struct cw_unwind_memo* memo;
    struct memo_scratch* scratch; /* the stack from sp, span bytes */
    __u32 span;
    __u32 differs;
};

/* One word of a memo against the stack read. */
static long memo_compare_step(__u64 i, void* data) {
    struct memo_compare* c = data;

    i += MEMO_INLINE_WORDS; /* the first ones were compared inline */
    if (i >= CW_UNWIND_MEMO_WORDS) return 1;
    if (!memo_word_holds(c->memo, c->scratch, c->span, i)) {
        c->differs = 1;
        return 1;
    }
    return 0;
}

/* Whether words from MEMO_INLINE_WORDS on hold: in a loop the verifier checks once with
 * bpf_loop() (`recent`; a bounded loop is checked per iteration, which slows the load), as a
 * bounded loop before (the verifier takes those since 5.3). */
static __always_inline bool memo_rest_holds(struct cw_unwind_memo* memo,
                                            struct memo_scratch* scratch, __u32 span,
                                            const bool recent) {
    struct memo_compare compare = {.memo = memo, .scratch = scratch, .span = span};

    if (memo->words <= MEMO_INLINE_WORDS) return true;
    if (recent) {
        bpf_loop(memo->words - MEMO_INLINE_WORDS, memo_compare_step, &compare, 0);
        return !compare.differs;
    }
    for (__u32 i = MEMO_INLINE_WORDS; i < CW_UNWIND_MEMO_WORDS; i++) {
        if (i >= memo->words) break;
        if (!memo_word_holds(memo, scratch, span, i)) return false;
    }
    return true;
}
#endif

#if defined(__TARGET_ARCH_x86)
/* Whether the stack from `sp` holds every word `memo` names (either mode's memo: fp_memo.bpf.h
 * keeps one inside its own), read in one go into the per-CPU scratch. */
static __always_inline bool memo_holds(struct cw_unwind_memo* memo, __u64 sp, const bool recent) {
    struct memo_scratch* scratch;
    __u32 zero = 0;
    __u64 span; /* 64 bits: a 32-bit one is zero-extended into a copy, and the check on it */

    if (memo->words > CW_UNWIND_MEMO_WORDS) return false;
    scratch = bpf_map_lookup_elem(&memo_scratch, &zero);
    if (!scratch) return false;
    /* 6.1's verifier loses a bound checked on another copy of the size than the one handed to
     * the helper (clang spills and reloads it as it likes), so the size is also masked to the
     * scratch array at the call; barrier_var() keeps clang from dropping the mask as redundant
     * after the check (it changes no value: span <= CW_MAX_USER_STACK_BYTES). */
    span = memo->span;
    if (span > CW_MAX_USER_STACK_BYTES) return false;
    barrier_var(span);
    if (span && bpf_probe_read_user(scratch->bytes, span & (sizeof(scratch->bytes) - 1), (void*)sp))
        return false;
    /* The first words inline: an opening's stack is a few frames as a rule, and each step of
     * bpf_loop() is an indirect call. */
    for (__u32 i = 0; i < MEMO_INLINE_WORDS; i++) {
        if (i >= memo->words) break;
        if (!memo_word_holds(memo, scratch, span, i)) return false;
    }
    return memo_rest_holds(memo, scratch, span, recent);
}
#endif

#if defined(__TARGET_ARCH_x86)
/* Whether `memo` answers for this opening: the same process and address space, and every word
 * it names holding. */
static __always_inline bool memo_answers(struct cw_unwind_memo* memo,
                                         const struct user_state* state,
                                         const struct cw_origin* origin, const bool recent) {
    return memo->task_start_ns == origin->task_start_ns && memo->mm == state->mm &&
           memo_holds(memo, state->key.sp, recent);
}

/* This CPU's slot in recent_memos for the registers `key`, whatever it holds. */
static __always_inline struct recent_memo* recent_memo_at(const struct cw_unwind_memo_key* key) {
    __u32 index = (__u32)(key->ip ^ (key->sp >> 4)) & (RECENT_MEMOS - 1);

    return bpf_map_lookup_elem(&recent_memos, &index);
}

/* That slot emptied (sp 0) to be filled, NULL when none. */
static __always_inline struct recent_memo* recent_memo_slot(const struct cw_unwind_memo_key* key) {
    struct recent_memo* slot = recent_memo_at(key);

    if (slot) slot->key.sp = 0; /* no opening's: answers nothing until filled whole */
    return slot;
}

/* This CPU's copy of the memo for the registers `key`, NULL when it has none. */
static __always_inline struct recent_memo* recent_memo_of(const struct cw_unwind_memo_key* key) {
    struct recent_memo* slot = recent_memo_at(key);

    if (!slot || slot->key.sp != key->sp || slot->key.ip != key->ip || slot->key.bp != key->bp ||
        slot->key.pid != key->pid)
        return NULL;
    return slot;
}

/* Copies the part of memo `from` that answers (its words, not the whole arrays: many threads on
 * one path take turns in a slot, each with a memo of its own stack pointer) into `to`; false
 * when `to` holds nothing whole. By helper calls: clang's copy of a variable size is a libcall. */
static __always_inline bool memo_copy(struct cw_unwind_memo* to,
                                      const struct cw_unwind_memo* from) {
    __u64 values = from->words * sizeof(__u64), offsets = from->words * sizeof(__u16);

    /* Bounds checked on the sizes handed over (see memo_holds()). */
    barrier_var(values);
    barrier_var(offsets);
    if (values > sizeof(to->values) || offsets > sizeof(to->offsets)) return false;
    if (values && (bpf_probe_read_kernel(to->values, values, from->values) ||
                   bpf_probe_read_kernel(to->offsets, offsets, from->offsets)))
        return false;
    to->task_start_ns = from->task_start_ns;
    to->mm = from->mm;
    to->unwound_id = from->unwound_id;
    to->span = from->span;
    to->words = from->words;
    return true;
}
#endif

/* Dwarf mode: whether this opening unwinds as an earlier one did: the memo of the same process,
 * address space and registers, and the same values in every stack word that unwind read. Then
 * its origin names that unwind, and no copy of the stack is needed; `*slot`: this CPU's copy of
 * the memo, when it has one. */
static __always_inline bool memo_matches(const struct user_state* state, struct cw_origin* origin,
                                         struct recent_memo** slot, const bool recent) {
#if defined(__TARGET_ARCH_x86)
    struct recent_memo* known = recent_memo_of(&state->key);
    struct cw_unwind_memo* memo;

    if (known && memo_answers(&known->memo.stack, state, origin, recent)) {
        memo = &known->memo.stack;
        *slot = known;
    } else {
        memo = bpf_map_lookup_elem(&unwind_memos, &state->key);
        if (!memo || !memo_answers(memo, state, origin, recent)) return false;
        known = recent_memo_slot(&state->key);
        if (known && memo_copy(&known->memo.stack, memo)) {
            known->key = state->key;
            *slot = known;
        }
    }
    origin->unwound_id = memo->unwound_id + 1;
    count(CW_CNT_UNWIND_MEMO_HITS);
    return true;
#else
    (void)slot;
    return false;
#endif
}

/* Bytes of user stack at `sp` to copy in one go: user_stack_bytes, or fewer when the thread's
 * stack top is known to be nearer (whole chunks only, as a chunk-by-chunk copy would stop). */
static __always_inline __u32 user_stack_hint(__u32 tid, __u64 sp, __u64* known_top) {
    __u64* top = bpf_map_lookup_elem(&stack_tops, &tid);
    __u64 room;

    *known_top = top ? *top : 0;
    if (!top || *top <= sp) return user_stack_bytes;
    room = (*top - sp) / CW_USER_STACK_CHUNK * CW_USER_STACK_CHUNK;
    return room < user_stack_bytes ? (__u32)room : user_stack_bytes;
}

/* Dwarf mode: the user registers and a copy of the user stack, so that userspace can unwind
 * code built without frame pointers with its CFI; nothing when the opening matched an earlier
 * unwind (memo_matches). A copy that faults (the top of the stack is nearer than
 * user_stack_bytes) is redone in chunks, up to the first chunk that faults; where that was is
 * remembered per thread, so that its next copy reads just that much at once (and goes on chunk
 * by chunk from there if more is readable). The bytes copied are the same. */
static __always_inline void emit_user_stack(__u64 sk, const struct cw_origin* origin,
                                            const struct user_state* state) {
#if defined(__TARGET_ARCH_x86)
    struct cw_event_user_stack* event;
    unsigned char* stack;
    __u32 chunks = user_stack_bytes / CW_USER_STACK_CHUNK, first = 0, hint;
    __u64 sp = state->key.sp, top, known_top;

    if (user_stack_mode != CW_USER_STACKS_DWARF || origin->unwound_id) return;
    /* user_stack_bytes is read-only data: the verifier sees a constant size. */
    event = reserve_or_count(&stack_copies, sizeof(*event) + user_stack_bytes,
                             CW_CNT_USER_STACK_COPY_LOST);
    if (!event) return;
    fill_header(&event->hdr, CW_EV_USER_STACK, sizeof(*event) + user_stack_bytes, sk,
                origin->opened_ns);
    event->opened_ns = origin->opened_ns;
    event->task_start_ns = origin->task_start_ns;
    event->pid = origin->pid;
    event->tid = origin->tid;
    event->ip = state->key.ip;
    event->sp = sp;
    event->bp = state->key.bp;
    event->mm = state->mm;
    event->stack_bytes = 0;
    event->pad = 0;
    stack = (unsigned char*)(event + 1);
    /* One copy of what is known readable (the whole slice as a rule); chunk by chunk after it. */
    hint = user_stack_hint(origin->tid, sp, &known_top);
    if (hint > user_stack_bytes) hint = user_stack_bytes; /* for the verifier */
    if (!bpf_probe_read_user(stack, hint, (void*)sp)) first = hint / CW_USER_STACK_CHUNK;
    event->stack_bytes = first * CW_USER_STACK_CHUNK;
    for (__u32 i = 0; i < CW_MAX_USER_STACK_BYTES / CW_USER_STACK_CHUNK; i++) {
        if (i >= chunks) break;
        if (i < first) continue;
        if (bpf_probe_read_user(stack + i * CW_USER_STACK_CHUNK, CW_USER_STACK_CHUNK,
                                (void*)(sp + i * CW_USER_STACK_CHUNK)))
            break;
        event->stack_bytes = (i + 1) * CW_USER_STACK_CHUNK;
    }
    /* Stopped short: the chunk after the copy faulted, so the page boundary within it (or at
     * its start) is the top. Not short, having read past a top known for this thread id: that
     * top was stale (the id reused), forget it. */
    if (event->stack_bytes < user_stack_bytes) {
        top = (sp + event->stack_bytes + 4095) & ~4095ULL;
        if (top != known_top) bpf_map_update_elem(&stack_tops, &origin->tid, &top, BPF_ANY);
    } else if (known_top && known_top < sp + user_stack_bytes) {
        bpf_map_delete_elem(&stack_tops, &origin->tid);
    }
    bpf_ringbuf_submit(event, submit_flags_of(&stack_copies, stack_copies_bytes,
                                              sizeof(*event) + user_stack_bytes));
#else
    /* Registers are read as x86-64's; elsewhere the frame-pointer stack stands alone. */
    (void)sk;
    (void)origin;
    (void)state;
    if (user_stack_mode == CW_USER_STACKS_DWARF) count(CW_CNT_USER_STACK_COPY_LOST);
#endif
}
