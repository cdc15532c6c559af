/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * How cwtrace.bpf.c's records leave for userspace, and how a loss is counted. Every reservation
 * goes through reserve_or_count(), which counts a full ring in one place (as falco's
 * ringbuf__reserve_space() does), so that no program can drop a record uncounted.
 */
#pragma once

#include "common.bpf.h"
#include "maps.bpf.h"

/* One more in slot `which` (enum cw_counter) of `counters`. */
static __always_inline void count(__u32 which) {
    __u64* value = bpf_map_lookup_elem(&counters, &which);

    if (value) *value += 1; /* per-CPU slot: no atomics needed */
}

/* `size` bytes of `ring`, or NULL when it is full, a loss then counted in slot `lost`. */
static __always_inline void* reserve_or_count(void* ring, __u64 size, __u32 lost) {
    void* record = bpf_ringbuf_reserve(ring, size, 0);

    if (!record) count(lost);
    return record;
}

/* `now`: the one bpf_ktime_get_ns() of the program's run (a clock read is not free). */
static __always_inline void fill_header(struct cw_event_header* hdr, __u32 type, __u32 size,
                                        __u64 sk, __u64 now) {
    hdr->type = type;
    hdr->size = size;
    hdr->ts_ns = now;
    hdr->sk = sk;
}

/* Waking the consumer per event halves connection throughput; it drains on a timer instead,
 * and is only woken early when the buffer is half full. `size`: the ring's, set at load.
 * `lone_bytes` (non-zero): a record of that size alone in the ring wakes it too — a stack
 * copy, whose unwind memo, in the kernel soon after, spares the copies of every later opening
 * on its path (waiting for half the ring, a burst of openings on a new path outran the memo). */
static __always_inline __u64 submit_flags_of(void* ring, __u64 size, __u64 lone_bytes) {
    __u64 queued = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);

    return queued > size / 2 || queued < 2 * lone_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline __u64 submit_flags(void) {
    return submit_flags_of(&events, events_bytes, 0);
}
