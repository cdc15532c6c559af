// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cwtrace kernel side: who opened each TCP socket, and when it enters/leaves CLOSE_WAIT.
 *
 * The FIN that moves a socket into CLOSE_WAIT is processed in softirq, so the task current
 * there is whoever happened to be on the CPU (on loopback, the peer). Ownership and stacks are
 * therefore taken where the socket is opened, in process context, kept in `origins` keyed by
 * the struct sock address, and copied into the CLOSE_WAIT event.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "common.bpf.h"
#include "cwtrace/abi.h"
#include "events.bpf.h"
#include "filter.bpf.h"
#include "maps.bpf.h"
#include "openers.bpf.h"
#include "origin.bpf.h"
#include "python.bpf.h"
#include "sock.bpf.h"
#include "task.bpf.h"
#include "user_stack.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline bool pid_selected(__u32 tgid) {
    if (filter_pid_count == 0) return true;
    for (__u32 i = 0; i < CW_MAX_PID_FILTER; i++) {
        if (i >= filter_pid_count) break;
        if (filter_pids[i] == tgid) return true;
    }
    return false;
}

/* With --pid: set once a selected process has opened a socket. Until then nothing is followed,
 * and a state change costs what it costs an empty program (no map lookups, no deletes). */
__u32 following = 0;

static __always_inline void remember_origin(__u64 sk, const struct cw_origin_entry* entry,
                                            const bool recent) {
    if (opener_store(sk, entry, recent)) count(CW_CNT_ORIGIN_MAP_FULL);
    if (filter_pid_count && !following) following = 1;
}

/* Notes in a socket's entry that it is in CLOSE_WAIT since `since`, with what cw_event_enter
 * would say of it. The time is written last: a reader seeing it set but no flow yet (the entry
 * being written in the map) waits for its next read. */
static __always_inline void note_close_wait(const struct sock* sk, struct cw_origin_entry* entry,
                                            __u64 since, const bool direct) {
    entry->ino = sock_ino(sk, direct);
    fill_flow(sk, &entry->flow, direct);
    asm volatile("" ::: "memory");
    entry->close_wait_since = since;
}

/* With --pid, only sockets whose opener was recorded (a selected process opened them while
 * tracing) are followed here; userspace finds the selected processes' other sockets through
 * sock_diag at report time. Without it every socket is followed. */
static __always_inline bool followed(const struct cw_origin_entry* entry) {
    return filter_pid_count == 0 || entry;
}

/* `origin`: the socket's opener, NULL when not recorded. */
static __always_inline void emit_enter(const struct sock* s, __u64 sk,
                                       const struct cw_origin* origin, __u64 now,
                                       const bool direct) {
    struct cw_event_enter* event;

    event = reserve_or_count(&events, sizeof(*event), CW_CNT_RINGBUF_FULL);
    if (!event) return;
    fill_header(&event->hdr, CW_EV_ENTER_CLOSE_WAIT, sizeof(*event), sk, now);
    event->ino = sock_ino(s, direct);
    event->pad = 0;
    fill_flow(s, &event->flow, direct);
    if (origin) {
        event->origin = *origin;
        event->has_origin = 1;
    } else {
        __builtin_memset(&event->origin, 0, sizeof(event->origin));
        event->has_origin = 0;
    }
    bpf_ringbuf_submit(event, submit_flags());
}

static __always_inline __u32 close_kind(int new_state, bool task, bool reset, const bool recent) {
    if (task) {
        unsigned int flags = KREAD(recent, current_task(recent), flags);

        if (flags & PF_KTHREAD) return CW_CLOSE_KERNEL;
        if (flags & PF_EXITING) return CW_CLOSE_EXIT;
        return new_state == CW_TCP_LAST_ACK ? CW_CLOSE_CLOSE : CW_CLOSE_RESET;
    }
    /* Otherwise a timeout (retransmits, keepalive: ETIMEDOUT or a soft error). */
    return reset ? CW_CLOSE_RESET : CW_CLOSE_KERNEL;
}

/* The closing thread, in process context. An exiting task has already dropped its memory
 * map (exit_mm() runs before exit_files()), so it has no user stack to walk. A close younger
 * than --min-age is only counted (with --pid, by its closer's pid too): pid and tid, nothing
 * more, are filled in for it. */
static __always_inline void fill_closer(void* ctx, struct cw_origin* closer, __u32 kind, bool late,
                                        __u64 now, const bool recent) {
    __u64 pid_tgid = bpf_get_current_pid_tgid();

    __builtin_memset(closer, 0, sizeof(*closer));
    closer->pid = pid_tgid >> 32;
    closer->tid = (__u32)pid_tgid;
    closer->kind = kind;
    closer->kernel_stack_id = CW_STACK_NOT_WANTED;
    closer->user_stack_id = CW_STACK_NOT_WANTED;
    if (!late) return;
    closer->opened_ns = now;
    bpf_get_current_comm(closer->comm, sizeof(closer->comm));
    closer->task_start_ns = task_start_ns(current_task(recent), recent);
    closer->kernel_stack_id = bpf_get_stackid(ctx, &stacks, 0);
    if (closer->kernel_stack_id < 0) count(CW_CNT_KERNEL_STACK_LOST);
    if (kind == CW_CLOSE_EXIT || kind == CW_CLOSE_KERNEL) return;
    closer->user_stack_id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
    if (closer->user_stack_id < 0) count(CW_CNT_USER_STACK_LOST);
    closer->leaf_caller = user_leaf_caller(user_regs(current_task(recent), recent), recent);
    announce_process(closer->pid, closer->task_start_ns);
}

/* A leave record's opener: `entry`'s, none when NULL. */
static __always_inline void fill_leave_origin(struct cw_origin* origin, __u32* has_origin,
                                              const struct cw_origin_entry* entry) {
    if (entry) {
        *origin = entry->origin;
        *has_origin = 1;
    } else {
        __builtin_memset(origin, 0, sizeof(*origin));
        *has_origin = 0;
    }
}

static __always_inline void fill_leave_quick(struct cw_event_leave_quick* event, __u64 sk,
                                             int new_state, bool task, bool reset, __u64 age,
                                             __u64 now, const struct cw_origin_entry* entry,
                                             const bool recent) {
    __u64 pid_tgid = bpf_get_current_pid_tgid();

    fill_header(&event->hdr, CW_EV_LEAVE_QUICK, sizeof(*event), sk, now);
    event->new_state = new_state;
    event->close_kind = close_kind(new_state, task, reset, recent);
    event->close_wait_ns = age;
    event->has_closer = task;
    event->closer_pid = task ? pid_tgid >> 32 : 0;
    event->closer_tid = task ? (__u32)pid_tgid : 0;
    fill_leave_origin(&event->origin, &event->has_origin, entry);
}

/* This CPU's quick-leave ring (struct cw_quick_ring), and in `head` where its next record goes;
 * NULL when it has no room (or there are no rings). Only this program writes it, and it never
 * runs nested in itself on a CPU: no lock. */
static __always_inline struct cw_quick_ring* quick_ring_with_room(__u64* head) {
#if defined(__TARGET_ARCH_x86)
    __u32 cpu = bpf_get_smp_processor_id();
    struct cw_quick_ring* ring;

    if (!quick_slots) return NULL;
    ring = bpf_map_lookup_elem(&quick_leaves, &cpu);
    if (!ring) return NULL;
    *head = ring->head;
    /* A stale tail (userspace reading meanwhile) only sends this record the other way. */
    if (*head - *(volatile __u64*)&ring->tail >= quick_slots) return NULL;
    return ring;
#else
    /* A record is published by the order of two stores (emit_leave_quick()), which x86 keeps:
     * elsewhere every quick leave goes through the ring buffer. */
    (void)head;
    return NULL;
#endif
}

/* A close younger than --min-age of a followed socket: one small record, into this CPU's ring
 * when it has room, else the ring buffer. */
static __always_inline void emit_leave_quick(__u64 sk, int new_state, bool task, bool reset,
                                             __u64 age, __u64 now,
                                             const struct cw_origin_entry* entry,
                                             const bool recent) {
    struct cw_event_leave_quick* event;
    struct cw_quick_ring* ring;
    __u64 head = 0;

    ring = quick_ring_with_room(&head);
    if (ring) {
        /* The mask keeps the verifier's bound: quick_slots is a power of two, set at load. */
        event = (void*)(ring + 1) + (head & (quick_slots - 1)) * sizeof(*event);
        fill_leave_quick(event, sk, new_state, task, reset, age, now, entry, recent);
        /* The record before the head that shows it (x86 keeps the order of stores). */
        asm volatile("" ::: "memory");
        ring->head = head + 1;
        return;
    }
    event = reserve_or_count(&events, sizeof(*event), CW_CNT_RINGBUF_FULL);
    if (!event) return;
    fill_leave_quick(event, sk, new_state, task, reset, age, now, entry, recent);
    bpf_ringbuf_submit(event, submit_flags());
}

/* `entry`: the socket's opener entry, NULL when none was recorded. */
static __always_inline void emit_leave(void* ctx, const struct sock* s, __u64 sk,
                                       struct cw_origin_entry* entry, int new_state,
                                       const bool direct, const bool recent) {
    struct cw_event_leave* event;
    __u64 *since, since_ns = 0, now, age;
    bool late, task, reset;

    /* With --pid, sockets not followed have no close_wait_since entry either. */
    if (!followed(entry)) return;
    if (entry && entry->close_wait_since) {
        since_ns = entry->close_wait_since;
        entry->close_wait_since = 0;
    } else {
        since = bpf_map_lookup_elem(&close_wait_since, &sk);
        if (since) {
            since_ns = *since;
            bpf_map_delete_elem(&close_wait_since, &sk);
        }
    }
    now = bpf_ktime_get_ns();
    age = since_ns && now > since_ns ? now - since_ns : 0;
    late = !since_ns || age >= closer_min_age_ns;
    reset = reset_by_peer(s, new_state, direct);
    task = in_task(s, reset, direct);
    if (!late) {
        emit_leave_quick(sk, new_state, task, reset, age ? age : 1, now, entry, recent);
        return;
    }
    event = reserve_or_count(&events, sizeof(*event), CW_CNT_RINGBUF_FULL);
    if (!event) return;
    fill_header(&event->hdr, CW_EV_LEAVE_CLOSE_WAIT, sizeof(*event), sk, now);
    fill_flow(s, &event->flow, direct);
    event->new_state = new_state;
    event->pad = 0;
    event->close_wait_ns = age;
    event->close_kind = close_kind(new_state, task, reset, recent);
    event->has_closer = task;
    if (task)
        fill_closer(ctx, &event->closer, event->close_kind, late, now, recent);
    else
        __builtin_memset(&event->closer, 0, sizeof(event->closer));
    fill_leave_origin(&event->origin, &event->has_origin, entry);
    event->pad2 = 0;
    bpf_ringbuf_submit(event, submit_flags());
}

/* Whether set_state() acts on a change from `old_state` to `new_state`. A connection makes ten:
 * CLOSE->SYN_SENT and SYN_SENT->ESTABLISHED at connect(); LISTEN->SYN_RECV and
 * SYN_RECV->ESTABLISHED for the accepted end; ESTABLISHED->FIN_WAIT1->FIN_WAIT2->CLOSE on the end
 * closing first; ESTABLISHED->CLOSE_WAIT->LAST_ACK->CLOSE on the other. Four matter: the connect
 * (the opener is current), the entry into CLOSE_WAIT, the leave from it (which forgets the
 * opener: LAST_ACK, entered from CLOSE_WAIT only, needs nothing at its CLOSE), and any other
 * CLOSE (the opener forgotten). The others are decided on the tracepoint's arguments alone,
 * before the socket or any map is read: they cost what an empty program costs. */
static __always_inline bool acted_on(int old_state, int new_state) {
    /* As bits, one test for most: a state change's tests are branches the CPU mispredicts, its
     * runs ten different changes apart. SYN_SENT is entered from CLOSE alone (connect()). */
    const __u32 by_new = (1u << CW_TCP_SYN_SENT) | (1u << CW_TCP_CLOSE_WAIT) | (1u << CW_TCP_CLOSE);
    const __u32 by_old = 1u << CW_TCP_CLOSE_WAIT;

    if (!(((1u << (new_state & 15)) & by_new) | ((1u << (old_state & 15)) & by_old))) return false;
    return !(new_state == CW_TCP_CLOSE && old_state == CW_TCP_LAST_ACK);
}

/* A raw tracepoint: the program gets the tracepoint's arguments (sk, old and new state) as they
 * are, where a classic one first has the kernel build a record of every change (addresses,
 * ports, family) for each of the many changes of a connection; the few it acts on read what they
 * need from the socket. */
static __always_inline int set_state(struct bpf_raw_tracepoint_args* ctx, const bool direct,
                                     const bool recent) {
    int old_state = (int)ctx->args[1];
    int new_state = (int)ctx->args[2];
    const struct sock* s;
    bool opening;
    __u64 sk;

    /* On the arguments alone first: a run that loads no word of a map's memory costs what an
     * empty program costs, and one that does ~10 ns more on these VMs (its page's translation). */
    if (!acted_on(old_state, new_state)) return 0;
    opening = old_state == CW_TCP_CLOSE && new_state == CW_TCP_SYN_SENT;
    /* With --pid, nothing but an opening until a selected process has opened a socket. Read
     * here, not before (volatile: clang would load it ahead of the test above). */
    if (filter_pid_count && !*(volatile __u32*)&following && !opening) return 0;
    /* The key as the number the tracepoint passed: a typed pointer is none the verifier lets a
     * hash be computed from. */
    sk = ctx->args[0];
    s = KCAST(direct, struct sock, sk);
    /* Inside connect(), in the connecting thread: the one moment the opener is current. */
    if (opening) {
        struct cw_origin_entry entry = {};
        struct user_state state = {};

        if (!pid_selected(bpf_get_current_pid_tgid() >> 32) || !tcp_protocol(s, direct) ||
            !remote_end_selected(s, direct))
            return 0;
        fill_origin(ctx, &entry.origin, CW_ORIGIN_CONNECT, s, &state, direct, recent);
        emit_user_stack(sk, &entry.origin, &state);
        remember_origin(sk, &entry, recent);
        return 0;
    }
    if (new_state == CW_TCP_CLOSE_WAIT) {
        struct opener_slot slot;
        struct cw_origin_entry* entry;
        __u64 now;

        if (!tcp_protocol(s, direct) || !flow_selected(s, direct)) return 0;
        entry = opener_find(sk, &slot, recent);
        /* With --pid, nothing for sockets the selected processes did not open. */
        if (!followed(entry)) return 0;
        now = received_ns(s, direct);
        if (entry) {
            /* No record: userspace reads the entry when it reports, and the leave record says
             * the rest (a record here, sent and handled for every churning connection, was a
             * large share of both sides' cost). */
            note_close_wait(s, entry, now, direct);
            return 0;
        }
        bpf_map_update_elem(&close_wait_since, &sk, &now, BPF_ANY);
        emit_enter(s, sk, NULL, now, direct);
        return 0;
    }
    if (old_state == CW_TCP_CLOSE_WAIT) {
        struct opener_slot slot;
        struct cw_origin_entry* entry = opener_find(sk, &slot, recent);

        /* A socket the filters leave out entered CLOSE_WAIT unnoted: its leave says nothing. */
        if (tcp_protocol(s, direct) && flow_selected(s, direct))
            emit_leave(ctx, s, sk, entry, new_state, direct, recent);
        /* It never enters CLOSE_WAIT again: its opener is forgotten now, while the entry the
         * leave just read is in the cache, rather than at its CLOSE (a cold bucket, later). */
        opener_forget_found(sk, &slot, recent);
        return 0;
    }
    /* The kernel reuses struct sock memory: forget the opener so it never outlives its socket
     * (only TCP sockets have one: no protocol check needed). acted_on() passes over a CLOSE from
     * LAST_ACK, whose leave forgot it. */
    if (new_state == CW_TCP_CLOSE) opener_forget(sk, recent);
    return 0;
}

/* The three variants of each program (common.bpf.h): userspace loads one. */
SEC("raw_tp/inet_sock_set_state")
int on_inet_sock_set_state(struct bpf_raw_tracepoint_args* ctx) {
    return set_state(ctx, true, true);
}

SEC("raw_tp/inet_sock_set_state")
int on_inet_sock_set_state_probed(struct bpf_raw_tracepoint_args* ctx) {
    return set_state(ctx, false, true);
}

SEC("raw_tp/inet_sock_set_state")
int on_inet_sock_set_state_compat(struct bpf_raw_tracepoint_args* ctx) {
    return set_state(ctx, false, false);
}

/* A socket accept() returned already in CLOSE_WAIT: its entry in the map (`stored`) notes it as
 * set_state() notes a socket with an opener, so that the map read finds it even if its
 * CLOSE_WAIT record never came (a program run the kernel skipped). Since when: as that record
 * said, or (none, or --pid: the FIN came unfollowed) from the accept, never more than the truth.
 * Returns that time. */
static __always_inline __u64 note_accepted_in_close_wait(const struct sock* sk, __u64 key,
                                                         struct cw_origin_entry* stored,
                                                         const bool direct) {
    __u64* since = bpf_map_lookup_elem(&close_wait_since, &key);

    note_close_wait(sk, stored, since ? *since : stored->origin.opened_ns, direct);
    /* The leave reads the entry's time first: the other one would only wait for the LRU. */
    if (since) bpf_map_delete_elem(&close_wait_since, &key);
    return stored->close_wait_since;
}

/* An accepted socket's handshake completed in softirq; its owner is known only here. */
static __always_inline int on_accept_return(void* ctx, long fd, const bool direct,
                                            const bool recent) {
    struct cw_origin_entry entry = {};
    struct cw_origin_entry* stored;
    struct opener_slot slot;
    struct user_state state = {};
    struct cw_event_origin* event;
    struct sock* sk;
    __u64 key = 0, since;

    if (fd < 0 || !pid_selected(bpf_get_current_pid_tgid() >> 32)) return 0;
    sk = sock_of_fd(fd, &key, direct, recent);
    if (!sk) {
        count(CW_CNT_ACCEPT_FD_UNRESOLVED);
        return 0;
    }
    /* Filtered out, it never reaches a report: no opener to record. */
    if (!is_tcp(sk, direct) || !flow_selected(sk, direct)) return 0;
    fill_origin(ctx, &entry.origin, CW_ORIGIN_ACCEPT, sk, &state, direct, recent);
    emit_user_stack(key, &entry.origin, &state);
    /* In the map before the state is read: a FIN handled from here on (softirq, another CPU)
     * finds the opener and notes CLOSE_WAIT in its entry. Read first, a FIN between the read and
     * the insert went out with no opener, and none was ever sent. */
    remember_origin(key, &entry, recent);
    if (KREAD(direct, sk, __sk_common.skc_state) != CW_TCP_CLOSE_WAIT) return 0;
    /* tcp_set_state() runs the tracepoint before it stores the state: a FIN whose run found
     * the entry has noted it there already, and sent nothing. */
    stored = opener_find(key, &slot, recent);
    if (!stored || stored->close_wait_since) return 0;
    since = note_accepted_in_close_wait(sk, key, stored, direct);

    /* The peer closed before accept(): the CLOSE_WAIT record went out without an origin, which
     * this record adds (or, with --pid, did not go out: it is sent now, since this is the moment
     * the socket is followed). */
    if (filter_pid_count) {
        emit_enter(sk, key, &entry.origin, since, direct);
        return 0;
    }
    event = reserve_or_count(&events, sizeof(*event), CW_CNT_RINGBUF_FULL);
    if (!event) return 0;
    fill_header(&event->hdr, CW_EV_ORIGIN, sizeof(*event), key, entry.origin.opened_ns);
    event->ino = stored->ino;
    event->origin = entry.origin;
    bpf_ringbuf_submit(event, submit_flags());
    return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int on_accept4_exit(struct trace_event_raw_sys_exit* ctx) {
    return on_accept_return(ctx, ctx->ret, true, true);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int on_accept_exit(struct trace_event_raw_sys_exit* ctx) {
    return on_accept_return(ctx, ctx->ret, true, true);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int on_accept4_exit_probed(struct trace_event_raw_sys_exit* ctx) {
    return on_accept_return(ctx, ctx->ret, false, true);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int on_accept_exit_probed(struct trace_event_raw_sys_exit* ctx) {
    return on_accept_return(ctx, ctx->ret, false, true);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int on_accept4_exit_compat(struct trace_event_raw_sys_exit* ctx) {
    return on_accept_return(ctx, ctx->ret, false, false);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int on_accept_exit_compat(struct trace_event_raw_sys_exit* ctx) {
    return on_accept_return(ctx, ctx->ret, false, false);
}

/* A new program image: userspace looks whether it is a Python interpreter before it can
 * open a socket. Woken at once, as Python's own start-up is the whole head start it gets.
 * One program for every kernel: an exec is rare, its reads through helper calls cost nothing
 * that matters. */
SEC("tracepoint/sched/sched_process_exec")
int on_process_exec(void* ctx) {
    __u32 pid = bpf_get_current_pid_tgid() >> 32;
    struct cw_event_exec* event;

    bpf_map_delete_elem(&python_procs, &pid); /* whatever it ran before is gone */
    if (!pid_selected(pid)) return 0;
    event = reserve_or_count(&events, sizeof(*event), CW_CNT_RINGBUF_FULL);
    if (!event) return 0;
    fill_header(&event->hdr, CW_EV_EXEC, sizeof(*event), 0, bpf_ktime_get_ns());
    event->task_start_ns = task_start_ns(current_task(false), false);
    event->pid = pid;
    event->pad = 0;
    bpf_ringbuf_submit(event, BPF_RB_FORCE_WAKEUP);
    return 0;
}
