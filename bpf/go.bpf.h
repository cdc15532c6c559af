/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Who created the goroutine that opened a socket, for Go processes userspace has registered in
 * go_procs. Go's net/http dials in a goroutine of its own, so the opening thread's stack ends in
 * the transport; the goroutine's g knows the go statement that created it (g.gopc) and, when the
 * program runs with GODEBUG=tracebackancestors=N, its creators' stacks at that moment
 * (g.ancestors): the user's function is there. On x86-64 Go 1.17+ keeps g in R14 (the register
 * ABI), which the syscall path leaves alone, so the user registers at connect()/accept() hold it.
 * Everything read is the process's memory: a wrong value costs a name, never the trace.
 */
#ifndef CWTRACE_GO_BPF_H
#define CWTRACE_GO_BPF_H

#include "common.bpf.h"
#include "task.bpf.h"

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, __u32); /* tgid */
    __type(value, struct cw_go_proc);
} go_procs SEC(".maps");

/* Set by userspace when it registers its first Go process: until then an opening skips the
 * go_procs lookup. */
__u32 go_procs_known = 0;

/* Deduplicated creators, keyed by a hash of their pcs: one entry per creating code path. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, __u64);
    __type(value, struct cw_go_creator);
} go_creators SEC(".maps");

/* The creator is built here: it is larger than the BPF stack. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct cw_go_creator);
} go_scratch SEC(".maps");

static __always_inline bool go_in_text(const struct cw_go_proc* go, __u64 pc) {
    return pc >= go->text_start && pc < go->text_end;
}

static __always_inline __u64 go_mix(__u64 hash, __u64 value) {
    return (hash ^ value) * 0x100000001b3ULL; /* FNV-1a's prime, word at a time */
}

/* Ancestor `i` of the slice at `array` (len `count`) into `out`; its pcs in one read, no loop.
 * Returns the hash so far, or 0 when the ancestor cannot be read. */
static __always_inline __u64 go_read_ancestor(const struct cw_go_proc* go, __u64 array, __u64 count,
                                              __u32 i, struct cw_go_ancestor* out, __u64 hash) {
    __u64 info = array + (__u64)i * go->ancestor_size;
    __u64 pcs, len;
    __u32 n, size;

    if (i >= count) return 0;
    pcs = user_read_u64(info, 0);
    len = user_read_u64(info, 8);
    out->gopc = user_read_u64(info, go->ancestor_gopc);
    out->main = user_read_u64(info, go->ancestor_goid) == 1;
    out->truncated = len > CW_GO_MAX_PCS;
    n = len > CW_GO_MAX_PCS ? CW_GO_MAX_PCS : (__u32)len;
    if (!pcs || !n) return 0;
    /* 6.1's verifier loses a bound checked on another copy of the size than the one handed to
     * the helper, so the size is masked at the call (1 to 256 bytes, as n is 1 to 32: the mask
     * changes nothing); barrier_var() keeps clang from dropping it as redundant. */
    size = n * sizeof(out->pcs[0]) - 1;
    barrier_var(size);
    if (bpf_probe_read_user(out->pcs, (size & (sizeof(out->pcs) - 1)) + 1, (void*)pcs)) return 0;
    /* The runtime saved them: the first one of ours must be code of this program. */
    if (!go_in_text(go, out->pcs[0])) return 0;
    out->depth = n;
    hash = go_mix(go_mix(hash, out->gopc), ((__u64)n << 32) | out->main);
    for (__u32 k = 0; k < CW_GO_MAX_PCS; ++k) { /* unrolled; pcs past depth are not hashed */
        if (k >= n) break;
        hash = go_mix(hash, out->pcs[k]);
    }
    return hash;
}

/* Fills the origin's go_status and go_creator_id. Costs nothing for other processes while no
 * Go process is registered, one map lookup after; a CPython process keeps its Python stack. */
static __always_inline void go_capture(struct cw_origin* origin, struct pt_regs* regs,
                                       const bool recent) {
    struct cw_go_proc* go;
    struct cw_go_creator* creator;
    __u64 g, gopc, goid, array, count, hash;
    __u32 zero = 0;
    long err;

    origin->go_status = CW_GO_NONE;
    if (!go_procs_known || origin->py_status != CW_PY_NONE) return;
#if defined(bpf_target_x86)
    go = bpf_map_lookup_elem(&go_procs, &origin->pid);
    if (!go) return;
    /* A stale entry of an exited process whose pid was reused. */
    if (!go->ns_per_tick || origin->task_start_ns / go->ns_per_tick != go->start_ticks) return;

    g = KREAD(recent, regs, r14);
    goid = user_read_u64(g, go->g_goid);
    gopc = user_read_u64(g, go->g_gopc);
    if (goid == 1) {
        origin->go_status = CW_GO_MAIN;
        return;
    }
    if (!goid || !go_in_text(go, gopc)) {
        origin->go_status = CW_GO_NO_GOROUTINE;
        return;
    }
    creator = bpf_map_lookup_elem(&go_scratch, &zero);
    if (!creator) goto lost;
    creator->gopc = gopc;
    creator->ancestors = 0;
    creator->pad = 0;
    hash = go_mix(0xcbf29ce484222325ULL /* FNV-1a's offset basis */, gopc);
    array = user_read_u64(g, go->g_ancestors); /* *[]ancestorInfo: the slice header */
    if (array) {
        count = user_read_u64(array, 8);
        array = user_read_u64(array, 0);
        __u64 h = go_read_ancestor(go, array, count, 0, &creator->ancestor[0], hash);
        if (h) {
            creator->ancestors = 1;
            hash = h;
            h = go_read_ancestor(go, array, count, 1, &creator->ancestor[1], hash);
            if (h) {
                creator->ancestors = 2;
                hash = h;
            }
        }
    }
    err = bpf_map_update_elem(&go_creators, &hash, creator, BPF_NOEXIST);
    if (err && err != -17 /* EEXIST: the same creator, already stored */) goto lost;
    origin->go_status = CW_GO_CAPTURED;
    origin->go_creator_id = hash;
    return;
lost:
    origin->go_status = CW_GO_LOST;
#else
    (void)regs;
    (void)recent; /* g lives in another register elsewhere; not read there yet */
#endif
}

#endif /* CWTRACE_GO_BPF_H */
