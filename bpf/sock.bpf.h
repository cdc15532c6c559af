/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reads of a struct sock (and of the file table that leads to one): which kind of socket it is,
 * its inode and flow, and what its fields say of the close under way. `direct` picks how each
 * field is read (common.bpf.h).
 */
#pragma once

#include <bpf/bpf_endian.h>

#include "common.bpf.h"

static __always_inline __u64 sock_ino(const struct sock* sk, const bool direct) {
    struct socket* sock = KREAD(direct, sk, sk_socket);

    if (!sock) return 0; /* not accepted yet */
    return KREAD(direct, sock, file, f_inode, i_ino);
}

static __always_inline bool is_tcp(const struct sock* sk, const bool direct) {
    __u16 family = KREAD(direct, sk, __sk_common.skc_family);

    if (family != AF_INET && family != AF_INET6) return false;
    return KREAD_BITFIELD(direct, sk, sk_type) == SOCK_STREAM &&
           KREAD_BITFIELD(direct, sk, sk_protocol) == IPPROTO_TCP;
}

/* When the kernel began to process the socket's last segment, on the clock of
 * bpf_ktime_get_ns(): its receive-time stamp (tcp_mstamp, microseconds of CLOCK_MONOTONIC),
 * refreshed as each segment's processing begins (tcp_rcv_established(),
 * tcp_rcv_state_process()), so that no clock is read: a clock read is a tenth of the tracing's
 * cost per connection on a paravirtualized guest. For a socket entering CLOSE_WAIT, its FIN's
 * (at most a microsecond early); for one accept() returns, the handshake's last or a later one.
 * `now()`'s read when the socket has none. */
static __always_inline __u64 received_ns(const struct sock* sk, const bool direct) {
    __u64 us = KREAD(direct, KCAST(direct, struct tcp_sock, (__u64)sk), tcp_mstamp);

    return us ? us * 1000 : bpf_ktime_get_ns();
}

/* inet_sock_set_state also fires for SCTP, whose states map to TCP's (CLOSE_WAIT too). */
static __always_inline bool tcp_protocol(const struct sock* sk, const bool direct) {
    return KREAD_BITFIELD(direct, sk, sk_protocol) == IPPROTO_TCP;
}

/* The flow of a socket, read from the socket as the tracepoint's record shows it. */
static __always_inline void fill_flow(const struct sock* sk, struct cw_flow* flow,
                                      const bool direct) {
    __builtin_memset(flow, 0, sizeof(*flow));
    flow->family = KREAD(direct, sk, __sk_common.skc_family);
    flow->sport = KREAD(direct, sk, __sk_common.skc_num);
    flow->dport = bpf_ntohs(KREAD(direct, sk, __sk_common.skc_dport));
    if (flow->family == AF_INET6 && direct) {
        __builtin_memcpy(flow->saddr, sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8, 16);
        __builtin_memcpy(flow->daddr, sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8, 16);
    } else if (flow->family == AF_INET6) {
        BPF_CORE_READ_INTO(&flow->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
        BPF_CORE_READ_INTO(&flow->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
    } else {
        *(__u32*)flow->saddr = KREAD(direct, sk, __sk_common.skc_rcv_saddr);
        *(__u32*)flow->daddr = KREAD(direct, sk, __sk_common.skc_daddr);
    }
}

/* tcp_reset() sets EPIPE (ECONNRESET on older kernels) before tcp_done(): the peer's RST. */
static __always_inline bool reset_by_peer(const struct sock* sk, int new_state, const bool direct) {
    int err = KREAD(direct, sk, sk_err);

    return new_state == CW_TCP_CLOSE && (err == EPIPE || err == ECONNRESET);
}

/* Whether the current task is the one acting on the socket (process context): it holds the
 * socket lock (lock_sock() in close()/shutdown(), also at exit). A softirq or timer finding the
 * socket owned defers its work to the owner, so it never changes the state of an owned socket;
 * unowned, the current task is a bystander the softirq interrupted. (The preempt count would say
 * so directly, but __preempt_count is not in kallsyms without CONFIG_KALLSYMS_ALL.) */
static __always_inline bool in_task(const struct sock* sk, bool reset, const bool direct) {
    if (reset) return false;                               /* processed from the owner's backlog */
    if (!(bpf_get_current_pid_tgid() >> 32)) return false; /* the idle task */
    return KREAD(direct, sk, sk_lock.owned) != 0;
}

/* The struct sock behind file descriptor `fd` of the current task, or NULL; its address as a
 * number in `addr` (the key of its opener entry). The file table is read through the task's
 * typed pointers (`recent`; helper calls before); the descriptor array holds untyped pointers. */
static __always_inline struct sock* sock_of_fd(long fd, __u64* addr, const bool direct,
                                               const bool recent) {
    struct fdtable* fdt = KREAD(recent, current_task(recent), files, fdt);
    struct file **fds, *file = NULL;
    struct socket* sock;

    if (!fdt || fd >= KREAD(recent, fdt, max_fds)) return NULL;
    fds = KREAD(recent, fdt, fd);
    if (direct) {
        /* The array's slot, given a type whose first member is a pointer (struct llist_node's
         * `next`), is read like a field. */
        file = (struct file*)KCAST(direct, struct llist_node, &fds[fd])->next;
    } else if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd])) {
        return NULL;
    }
    if (!file) return NULL;
    file = KCAST(direct, struct file, file);
    sock = KCAST(direct, struct socket, KREAD(direct, file, private_data));
    if (!sock) return NULL;
    if (!direct) {
        *addr = (__u64)KREAD(direct, sock, sk);
        return (struct sock*)*addr;
    }
    /* Read as a typed pointer, it is no number the verifier lets a hash be computed from: read
     * as a type whose first member is a number (struct rb_node's `__rb_parent_color`). */
    *addr = KCAST(direct, struct rb_node, &sock->sk)->__rb_parent_color;
    return *addr ? KCAST(direct, struct sock, *addr) : NULL;
}
