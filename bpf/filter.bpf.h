/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --port, --lport, --rport, --remote, tested where a socket enters and leaves CLOSE_WAIT, so that
 * a socket filtered out costs no record and no map write. Userspace (report/socket_filter) tests
 * the same on what sock_diag finds. Settings are rodata (maps.bpf.h): with none given, the
 * verifier prunes every test below.
 */
#pragma once

#include <bpf/bpf_endian.h>

#include "common.bpf.h"
#include "maps.bpf.h"

static __always_inline bool port_listed(const volatile __u16* ports, __u32 count, __u16 port) {
    for (__u32 i = 0; i < CW_MAX_FLOW_FILTER; i++) {
        if (i >= count) break;
        if (ports[i] == port) return true;
    }
    return false;
}

/* `daddr` (four words, in network order) of a socket of `family` in range `i`. A dual-stack
 * socket talking to an IPv4 peer names it ::ffff:a.b.c.d, which an IPv4 range holds. */
static __always_inline bool in_range(__u32 i, __u16 family, const __u32* daddr) {
    const volatile __u32* addr = filter_remote_addr[i];
    const volatile __u32* mask = filter_remote_mask[i];

    if (filter_remote_family[i] == AF_INET) {
        if (family == AF_INET) return (daddr[0] & mask[0]) == addr[0];
        if (daddr[0] || daddr[1] || daddr[2] != bpf_htonl(0xffff)) return false;
        return (daddr[3] & mask[0]) == addr[0];
    }
    if (family != AF_INET6) return false;
    for (int w = 0; w < 4; w++)
        if ((daddr[w] & mask[w]) != addr[w]) return false;
    return true;
}

static __always_inline bool remote_selected(const struct sock* sk, const bool direct) {
    __u16 family = KREAD(direct, sk, __sk_common.skc_family);
    __u32 daddr[4] = {};

    if (family == AF_INET6 && direct)
        __builtin_memcpy(daddr, sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32, 16);
    else if (family == AF_INET6)
        BPF_CORE_READ_INTO(&daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr32);
    else
        daddr[0] = KREAD(direct, sk, __sk_common.skc_daddr);
    for (__u32 i = 0; i < CW_MAX_FLOW_FILTER; i++) {
        if (i >= filter_remote_count) break;
        if (in_range(i, family, daddr)) return true;
    }
    return false;
}

/* At connect, before the local port is chosen: whether the remote end passes --rport and
 * --remote (a socket that fails them never will, and needs no opener recorded). */
static __always_inline bool remote_end_selected(const struct sock* sk, const bool direct) {
    __u16 dport;

    if (!filter_rport_count && !filter_remote_count) return true;
    dport = bpf_ntohs(KREAD(direct, sk, __sk_common.skc_dport));
    if (filter_rport_count && !port_listed(filter_rports, filter_rport_count, dport)) return false;
    return !filter_remote_count || remote_selected(sk, direct);
}

/* Whether the socket's ports and remote address pass every filter given. */
static __always_inline bool flow_selected(const struct sock* sk, const bool direct) {
    __u16 sport, dport;

    if (!filter_port_count && !filter_lport_count && !filter_rport_count && !filter_remote_count)
        return true;
    sport = KREAD(direct, sk, __sk_common.skc_num);
    dport = bpf_ntohs(KREAD(direct, sk, __sk_common.skc_dport));
    if (filter_port_count && !port_listed(filter_ports, filter_port_count, sport) &&
        !port_listed(filter_ports, filter_port_count, dport))
        return false;
    if (filter_lport_count && !port_listed(filter_lports, filter_lport_count, sport)) return false;
    if (filter_rport_count && !port_listed(filter_rports, filter_rport_count, dport)) return false;
    return !filter_remote_count || remote_selected(sk, direct);
}
