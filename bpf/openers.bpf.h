/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where a socket's opener is kept (struct cw_origin_entry, by the struct sock address): the
 * opener table (struct cw_opener_bucket) in the programs that have it, the `origins` hash map in
 * the others. Every connection inserts two entries and deletes two; in a hash map each of those
 * takes the bucket lock with interrupts off (turning them back on is a paravirtual operation on
 * the VMs measured: ~18% of the programs' time) and walks a bucket's list. In the table, a lookup
 * reads one cache line of keys, an insert claims a free key with a compare-and-swap, a delete
 * stores 0, and nothing waits for a lock.
 *
 * No two programs insert or delete one socket's entry at once: its state changes, which read and
 * delete it, are made one at a time under the socket's lock, and the insert precedes them
 * (connect()) or publishes the entry before it reads the state (accept(); a FIN handled from then
 * on notes CLOSE_WAIT in the entry, as it did in the hash map's). The key is written last when an
 * entry is inserted, so that a lookup of it finds it whole: x86 keeps the order of stores, and
 * elsewhere there is no table.
 */
#pragma once

#include "common.bpf.h"
#include "maps.bpf.h"

/* A socket's entry, where lookups found it: what a delete clears. */
struct opener_slot {
    struct cw_origin_entry* entry; /* NULL: none */
    __u64* key;
    __u64* spilled; /* in its second choice: the first one's count, else NULL */
    __u32 index;    /* its bucket's */
};

/* Whether the table is used: by the programs with bpf_loop() (5.17+, which have the atomics a
 * claim needs, 5.12+) on x86-64, when userspace sized it. */
static __always_inline bool opener_table_used(const bool recent) {
#if defined(__TARGET_ARCH_x86)
    return recent && opener_buckets;
#else
    (void)recent;
    return false;
#endif
}

/* Bucket `choice` (0, 1) of `sk`: the high half of a product with an odd constant, scaled to the
 * bucket count (any count, no power of two needed). Socket addresses are slab objects whose low
 * bits repeat; the product mixes the bits above them into its high half. */
static __always_inline struct cw_opener_bucket* opener_bucket(__u64 sk, int choice, __u32* index) {
    __u64 mixed = sk * (choice ? 0xc2b2ae3d27d4eb4fULL : 0x9e3779b97f4a7c15ULL);

    *index = (__u32)(((mixed >> 32) * opener_buckets) >> 32);
    return bpf_map_lookup_elem(&opener_table, index);
}

/* Counts an entry in or out of bucket `index`'s window (this CPU's count). Atomic although no
 * other CPU writes it: a program in softirq (a leave's delete) may run between the load and the
 * store of accept()'s insert on this CPU, and a count lost so would hide a window from reads. */
static __always_inline void opener_window_count(__u32 index, __s64 n) {
    __u32 window = index / CW_OPENER_WINDOW_BUCKETS;
    __s64* use = bpf_map_lookup_elem(&opener_window_use, &window);

    if (use) __sync_fetch_and_add(use, n);
}

/* `sk`'s way in `bucket`, -1 when it has none. */
static __always_inline int opener_way(const struct cw_opener_bucket* bucket, __u64 sk) {
#pragma unroll
    for (int i = 0; i < CW_OPENER_WAYS; i++)
        if (bucket->keys[i] == sk) return i;
    return -1;
}

static __always_inline void opener_slot_at(struct opener_slot* slot,
                                           struct cw_opener_bucket* bucket, __u32 index, int way,
                                           __u64* spilled) {
    if (way < 0 || way >= CW_OPENER_WAYS) return;
    slot->entry = &bucket->entries[way];
    slot->key = &bucket->keys[way];
    slot->spilled = spilled;
    slot->index = index;
}

/* `sk`'s entry in the table, in `slot` (its entry NULL when it has none). */
static __always_inline void opener_table_find(__u64 sk, struct opener_slot* slot) {
    __u32 index, second_index;
    struct cw_opener_bucket* first = opener_bucket(sk, 0, &index);
    struct cw_opener_bucket* second;

    if (!first) return;
    opener_slot_at(slot, first, index, opener_way(first, sk), NULL);
    if (slot->entry || !first->spilled) return;
    second = opener_bucket(sk, 1, &second_index);
    if (second) opener_slot_at(slot, second, second_index, opener_way(second, sk), &first->spilled);
}

/* A free way of `bucket` claimed for `sk` (its key then says it is being written), -1: none. */
static __always_inline int opener_claim(struct cw_opener_bucket* bucket, __u64 sk) {
#pragma unroll
    for (int i = 0; i < CW_OPENER_WAYS; i++)
        if (!bucket->keys[i] &&
            !__sync_val_compare_and_swap(&bucket->keys[i], 0, sk | CW_OPENER_WRITING))
            return i;
    return -1;
}

/* Stores `entry` for `sk`: over an entry of the same key left by a delete the kernel skipped (a
 * program run it did not make), else in a free way of its first bucket, else of its second.
 * Returns 0, or -1 when both are full. */
static __always_inline int opener_table_store(__u64 sk, const struct cw_origin_entry* entry) {
    __u32 first_index, second_index = 0, index;
    struct cw_opener_bucket *first = opener_bucket(sk, 0, &first_index), *second = NULL, *bucket;
    int way;

    if (!first) return -1;
    bucket = first;
    index = first_index;
    way = opener_way(first, sk);
    if (way < 0 && first->spilled) {
        second = opener_bucket(sk, 1, &second_index);
        if (second) {
            bucket = second;
            index = second_index;
            way = opener_way(second, sk);
        }
    }
    if (way >= 0) {
        /* A stale entry of this socket's address (counted when it was stored): nothing else
         * reads it while it is opened. */
        if (way >= CW_OPENER_WAYS) return -1;
        bucket->keys[way] = sk | CW_OPENER_WRITING;
    } else {
        bucket = first;
        index = first_index;
        way = opener_claim(first, sk);
        if (way < 0) {
            second = second ?: opener_bucket(sk, 1, &second_index);
            if (!second) return -1;
            /* Counted before the key is claimed: a lookup that can find it looks there. */
            __sync_fetch_and_add(&first->spilled, 1);
            bucket = second;
            index = second_index;
            way = opener_claim(second, sk);
            if (way < 0) {
                __sync_fetch_and_add(&first->spilled, -1);
                return -1;
            }
        }
        if (way >= CW_OPENER_WAYS) return -1;
        opener_window_count(index, 1);
    }
    bucket->generations[way]++;
    asm volatile("" ::: "memory");
    bucket->entries[way] = *entry;
    /* The entry before the key that shows it (x86 keeps the order of stores), and the key shown
     * before any later load (a locked instruction: a plain store may wait in the store buffer
     * past them): accept()'s program reads the socket's state next, counting on a FIN handled
     * from then on to find the entry. */
    __sync_val_compare_and_swap(&bucket->keys[way], sk | CW_OPENER_WRITING, sk);
    return 0;
}

/* Frees a slot opener_table_find() gave. */
static __always_inline void opener_table_free(const struct opener_slot* slot) {
    if (!slot->entry) return;
    *slot->key = 0;
    if (slot->spilled) __sync_fetch_and_add(slot->spilled, -1);
    opener_window_count(slot->index, -1);
}

/* `sk`'s opener entry, NULL when none was recorded; `slot` says where, for opener_forget(). */
static __always_inline struct cw_origin_entry* opener_find(__u64 sk, struct opener_slot* slot,
                                                           const bool recent) {
    slot->entry = NULL;
    slot->key = NULL;
    slot->spilled = NULL;
    slot->index = 0;
    if (opener_table_used(recent))
        opener_table_find(sk, slot);
    else
        slot->entry = bpf_map_lookup_elem(&origins, &sk);
    return slot->entry;
}

/* Records `entry` as `sk`'s opener; -1 when there was no room. */
static __always_inline int opener_store(__u64 sk, const struct cw_origin_entry* entry,
                                        const bool recent) {
    if (opener_table_used(recent)) return opener_table_store(sk, entry);
    return bpf_map_update_elem(&origins, &sk, entry, BPF_ANY) ? -1 : 0;
}

/* Forgets `sk`'s opener, found in `slot` by opener_find() (the same run of the program). */
static __always_inline void opener_forget_found(__u64 sk, const struct opener_slot* slot,
                                                const bool recent) {
    if (opener_table_used(recent))
        opener_table_free(slot);
    else
        bpf_map_delete_elem(&origins, &sk);
}

/* Forgets `sk`'s opener, if it has one. */
static __always_inline void opener_forget(__u64 sk, const bool recent) {
    struct opener_slot slot = {};

    if (opener_table_used(recent)) {
        opener_table_find(sk, &slot);
        opener_table_free(&slot);
    } else {
        bpf_map_delete_elem(&origins, &sk);
    }
}
