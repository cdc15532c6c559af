// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Which process holds each TCP socket in the wanted states: a walk of every process's file
 * table, the job `ss -p` and a /proc/PID/fd scan do with one readlink per descriptor (seconds
 * of CPU on a host with a million sockets). Here a descriptor costs a few kernel reads.
 *
 * Not attached anywhere: userspace runs it on demand (BPF_PROG_TEST_RUN of a raw tracepoint
 * program), which runs it under rcu_read_lock(), as the kernel's own for_each_process() walks
 * are. Each run looks at a bounded number of descriptors, then records where it stopped and
 * returns, so that no run holds its CPU for long; userspace drains the records between runs.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "common.bpf.h"
#include "cwtrace/abi.h"

#define BITS_PER_WORD 64

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by userspace before load. */
const volatile __u32 wanted_states = 1u << CW_TCP_CLOSE_WAIT; /* bit (1 << tcp state) */
/* Steps per run (a descriptor, a bitmap word or a process read; processes passed over are
 * free, so that a run always gets past the ones earlier runs read). Not read-only on purpose:
 * a constant budget counted down would make the verifier walk every iteration. */
__u32 steps_per_run = 65536;

/* The walk's check of itself, summed over a walk's runs (userspace zeroes them before): whether
 * it read the table of the process that runs it (cwtrace), and how many sockets it found there.
 * A walk that misses what userspace knows it holds is not trusted (owner_finder.cpp). */
__u32 self_seen = 0;
__u64 self_sockets = 0;

/* Zero, but not known to the verifier (writable data): see walk_fds(). */
__u32 opaque_zero = 0;

/* Records for userspace, drained after each run. A full buffer ends the run early: nothing is
 * dropped (so nothing is counted, unlike cwtrace.bpf.c's records), the next run starts at the
 * descriptor that did not fit. Small: mapped twice for as long as cwtrace runs, it is resident
 * memory of the process. */
struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 256 << 10);
} held SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct cw_fd_walk);
} walk SEC(".maps");

/* Processes whose whole table was read (tgid -> start_boottime): later runs pass over them. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, __u32);
    __type(value, __u64);
} walked SEC(".maps");

/* The state of step() between calls. The verifier follows bpf_loop()'s callback until its states
 * repeat: a field that takes a new known value each step (a branch on `fd == 0` makes 0, 64,
 * 128, ... all distinct) keeps it from ever converging, and the load fails. */
struct walk_ctx {
    struct cw_fd_walk* w;
    struct task_struct* head; /* init_task: the list of processes starts and ends there */
    struct task_struct* task; /* the process being read, or the last one passed */
    struct file** fds;
    unsigned long* open_fds;
    __u64 start_ns;
    __u32 pid;
    __u32 max_fds;
    __u32 fd;           /* the next descriptor whose bitmap word is to be read */
    __u32 word_base;    /* the descriptor of bit 0 of `word` */
    unsigned long word; /* open descriptors of the word read not looked at yet */
    __u32 in_process;   /* reading task's table */
    __u32 error;
    __s64 budget; /* steps left for this run */
};

static __always_inline struct task_struct* next_process(struct task_struct* task) {
    struct list_head* next = BPF_CORE_READ(task, tasks.next);

    return (struct task_struct*)((void*)next - bpf_core_field_offset(struct task_struct, tasks));
}

/* Starts reading a process's table; false when there is nothing to read. */
static __always_inline bool enter_process(struct walk_ctx* c, struct task_struct* task) {
    struct fdtable* fdt;
    __u64* done;

    if (BPF_CORE_READ(task, flags) & PF_KTHREAD) return false;
    c->pid = BPF_CORE_READ(task, tgid);
    c->start_ns = BPF_CORE_READ(task, start_boottime);
    done = bpf_map_lookup_elem(&walked, &c->pid);
    if (done && *done == c->start_ns) return false;
    fdt = BPF_CORE_READ(task, files, fdt);
    if (!fdt) return false; /* exiting */
    c->max_fds = BPF_CORE_READ(fdt, max_fds);
    c->fds = BPF_CORE_READ(fdt, fd);
    c->open_fds = BPF_CORE_READ(fdt, open_fds);
    c->fd = c->w->pid == c->pid && c->w->start_ns == c->start_ns ? c->w->next_fd : 0;
    c->word = 0;
    c->in_process = 1;
    if (c->pid == c->w->self_pid) self_seen = 1;
    return true;
}

static __always_inline void leave_process(struct walk_ctx* c) {
    c->in_process = 0;
    c->w->processes++;
    if (bpf_map_update_elem(&walked, &c->pid, &c->start_ns, BPF_ANY))
        c->error = 1; /* could be read again and again: userspace falls back to /proc */
}

/* Looks at one open descriptor; false when its record did not fit. `direct` (bpf/common.bpf.h):
 * past the descriptor's slot, its file, inode, socket and sock are read by plain loads, where
 * the probed twin calls a helper for each of eight fields (in front of a million sockets, most
 * of the walk's CPU). */
static __always_inline bool look_at(struct walk_ctx* c, __u32 fd, const bool direct) {
    struct cw_held_socket rec;
    struct file* file = NULL;
    struct socket* sock;
    struct inode* inode;
    struct sock* sk;
    void* private_data;
    __u16 family;
    __u8 state;

    if (bpf_probe_read_kernel(&file, sizeof(file), &c->fds[fd]) || !file) return true;
    file = KCAST(direct, struct file, file);
    inode = KREAD(direct, file, f_inode);
    if (!inode || (KREAD(direct, inode, i_mode) & S_IFMT) != S_IFSOCK) return true;
    if (c->pid == c->w->self_pid) self_sockets++;
    private_data = KREAD(direct, file, private_data);
    if (!private_data) return true;
    sock = KCAST(direct, struct socket, private_data);
    sk = KREAD(direct, sock, sk);
    if (!sk) return true;
    family = KREAD(direct, sk, __sk_common.skc_family);
    if (family != AF_INET && family != AF_INET6) return true;
    state = KREAD(direct, sk, __sk_common.skc_state);
    if (state >= 32 || !(wanted_states & (1u << state))) return true;
    if (KREAD_BITFIELD(direct, sk, sk_protocol) != IPPROTO_TCP) return true;
    rec.ino = KREAD(direct, inode, i_ino);
    rec.pid = c->pid;
    rec.fd = fd;
    if (bpf_ringbuf_output(&held, &rec, sizeof(rec), BPF_RB_NO_WAKEUP)) return false;
    c->w->found++;
    return true;
}

/* The index of the lowest set bit of a non-zero word. */
static __always_inline __u32 lowest_bit(unsigned long word) {
    return __builtin_popcountl((word & -word) - 1);
}

/* One step: move to the next process, read the next word of its open-descriptor bitmap, or
 * look at the next open descriptor of the word read. Returns 1 to end the run. */
static __always_inline long step(struct walk_ctx* c, const bool direct) {
    unsigned long word = 0;
    __u32 fd;

    if (c->budget <= 0 || c->error) return 1;
    if (!c->in_process) {
        /* Passing over a process (read in an earlier run, or a kernel thread) is not counted:
         * every run passes over the same ones again, and must get past them. */
        struct task_struct* task = next_process(c->task);

        c->task = task;
        if (task == c->head) {
            c->w->done = 1;
            return 1;
        }
        if (enter_process(c, task)) c->budget--;
        return 0;
    }
    c->budget--;
    if (!c->word) {
        if (c->fd >= c->max_fds) {
            leave_process(c);
            return 0;
        }
        if (bpf_probe_read_kernel(&word, sizeof(word), &c->open_fds[c->fd / BITS_PER_WORD])) {
            leave_process(c); /* unreadable: what was read stands */
            return 0;
        }
        c->word = word & (~0UL << (c->fd % BITS_PER_WORD));
        c->word_base = c->fd & ~(BITS_PER_WORD - 1);
        c->fd = c->word_base + BITS_PER_WORD;
        return 0;
    }
    fd = c->word_base + lowest_bit(c->word);
    if (fd >= c->max_fds) {
        c->word = 0;
        return 0;
    }
    if (!look_at(c, fd, direct)) {
        c->fd = fd; /* the ring buffer is full: the next run starts here */
        c->word = 0;
        return 1;
    }
    c->word &= c->word - 1;
    c->w->fds++;
    return 0;
}

/* bpf_loop()'s callbacks, one a variant. */
static long step_direct(__u32 index, struct walk_ctx* c) { return step(c, true); }

static long step_probed(__u32 index, struct walk_ctx* c) { return step(c, false); }

static __always_inline int walk_tables(const bool direct) {
    struct walk_ctx c = {};
    struct task_struct* head;
    __u32 key = 0;

    c.w = bpf_map_lookup_elem(&walk, &key);
    if (!c.w) return 1;
    c.w->self_pid = bpf_get_current_pid_tgid() >> 32;
    /* init_task, the head of the process list: the ancestor of every task, with pid 0 (a
     * deeper tree than this is not looked for: userspace then reads /proc instead). */
    head = (struct task_struct*)bpf_get_current_task();
    for (int i = 0; i < 64 && BPF_CORE_READ(head, pid) != 0; i++)
        head = BPF_CORE_READ(head, real_parent);
    if (BPF_CORE_READ(head, pid) != 0) return 1;
    c.head = head;
    c.task = head;
    c.budget = steps_per_run;
    /* Every field step() branches on starts unknown to the verifier. An older verifier (6.1's)
     * checks a bpf_loop() callback once, from the state of its first call: fields known to be 0
     * there (in_process, word, max_fds) made reading a table and a descriptor dead code, removed
     * at load, and the walk read no process. */
    c.in_process = opaque_zero;
    c.word = opaque_zero;
    c.error = opaque_zero;
    c.max_fds = opaque_zero;
    c.fd = opaque_zero;
    c.word_base = opaque_zero;
    c.pid = opaque_zero;
    if (direct)
        bpf_loop(1 << 23, step_direct, &c, 0);
    else
        bpf_loop(1 << 23, step_probed, &c, 0);
    if (c.in_process) {
        /* Stopped inside a process: the next run resumes there. */
        c.w->pid = c.pid;
        c.w->start_ns = c.start_ns;
        c.w->next_fd = c.word ? c.word_base + lowest_bit(c.word) : c.fd;
    } else {
        c.w->pid = 0;
    }
    return c.error ? 1 : 0;
}

/* Userspace loads the direct walk with the tracer's direct programs (kernel 6.2+), else the
 * probed one (user/owners/socket_holders.cpp). */
SEC("raw_tp")
int walk_fds(void* ctx) { return walk_tables(true); }

SEC("raw_tp")
int walk_fds_probed(void* ctx) { return walk_tables(false); }
