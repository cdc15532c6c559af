/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The only contract between cwtrace's BPF programs and its userspace.
 * Plain C, fixed-width types, no padding holes: the C++ side static_asserts
 * the sizes below, so a layout change on one side fails the build of the other.
 */
#ifndef CWTRACE_ABI_H
#define CWTRACE_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define CW_COMM_LEN 16
#define CW_MAX_STACK_DEPTH 64 /* frames kept per user or kernel stack */
#define CW_MAX_PID_FILTER 8   /* --pid values the kernel side filters on */

/* A stack id that says the stack was not taken on purpose (not a loss): accept()'s kernel stack,
 * which at the syscall's exit shows only the exit path. Failed captures are other -errno values. */
#define CW_STACK_NOT_TAKEN (-1000)

/* --user-stacks dwarf: the user stack is copied from the stack pointer upwards in chunks of this
 * many bytes (a chunk that faults, past the top of the stack, ends the copy), at most the max. */
#define CW_USER_STACK_CHUNK 512
#define CW_MAX_USER_STACK_BYTES 16384
#define CW_DEFAULT_USER_STACK_BYTES 8192

/* How the user stack of an opening is recorded. */
enum cw_user_stack_mode {
    CW_USER_STACKS_FP = 0,    /* frame-pointer walk in the kernel (bpf_get_stackid) only */
    CW_USER_STACKS_DWARF = 1, /* plus registers and a copy of the stack, unwound in userspace */
};

/* TCP states, as in include/net/tcp_states.h (stable UAPI-like values). */
enum cw_tcp_state {
    CW_TCP_ESTABLISHED = 1,
    CW_TCP_SYN_SENT = 2,
    CW_TCP_SYN_RECV = 3,
    CW_TCP_FIN_WAIT1 = 4,
    CW_TCP_FIN_WAIT2 = 5,
    CW_TCP_TIME_WAIT = 6,
    CW_TCP_CLOSE = 7,
    CW_TCP_CLOSE_WAIT = 8,
    CW_TCP_LAST_ACK = 9,
    CW_TCP_LISTEN = 10,
    CW_TCP_CLOSING = 11,
    CW_TCP_NEW_SYN_RECV = 12,
};

/* How the process that owns a socket got it. */
enum cw_origin_kind {
    CW_ORIGIN_UNKNOWN = 0, /* opened before tracing started, or not yet accepted */
    CW_ORIGIN_CONNECT = 1, /* CLOSE->SYN_SENT inside connect() */
    CW_ORIGIN_ACCEPT = 2,  /* returned by accept()/accept4() */
};

/* Who opened a socket and where: recorded in process context, carried to CLOSE_WAIT. */
struct cw_origin {
    __u64 opened_ns;     /* bpf_ktime_get_ns() at connect()/accept() */
    __u64 leaf_caller;   /* word at the user stack pointer: the return address into the
                            syscall wrapper's caller, which a frame-pointer walk skips */
    __u64 task_start_ns; /* the process's start_boottime: with pid, an identity that survives
                            pid reuse (/proc/PID/stat field 22, in clock ticks) */
    __u32 pid;           /* tgid */
    __u32 tid;
    __s32 user_stack_id;   /* id in the stacks map, or -errno when capture failed */
    __s32 kernel_stack_id; /* likewise */
    __u32 kind;            /* enum cw_origin_kind */
    __u32 pad;
    char comm[CW_COMM_LEN];
};

/* Ring-buffer record types. */
enum cw_event_type {
    CW_EV_ENTER_CLOSE_WAIT = 1, /* a socket moved into CLOSE_WAIT */
    CW_EV_LEAVE_CLOSE_WAIT = 2, /* a socket moved out of CLOSE_WAIT */
    CW_EV_ORIGIN = 3,           /* accept() returned a socket already in CLOSE_WAIT */
    CW_EV_PROCESS = 4,          /* a process opened its first socket: snapshot its mappings */
    CW_EV_USER_STACK = 5,       /* dwarf mode: user registers and stack copy at an opening */
};

/* Every record starts with this header. */
struct cw_event_header {
    __u32 type; /* enum cw_event_type */
    __u32 size; /* bytes of the whole record, header included */
    __u64 ts_ns;
    __u64 sk; /* struct sock address: the socket's identity while it lives */
};

/* The connection a socket belongs to, as the tracepoint shows it. Unique among the live TCP
 * sockets of a network namespace: how events meet sockets found by sock_diag. */
struct cw_flow {
    __u8 saddr[16]; /* IPv4 in the first 4 bytes, the rest zero */
    __u8 daddr[16];
    __u16 family; /* AF_INET or AF_INET6 */
    __u16 sport;  /* host byte order */
    __u16 dport;  /* host byte order */
    __u16 pad;
};

struct cw_event_enter {
    struct cw_event_header hdr;
    __u64 ino; /* socket inode, 0 when no struct socket is attached yet */
    struct cw_flow flow;
    __u32 has_origin;
    __u32 pad;
    struct cw_origin origin;
};

struct cw_event_leave {
    struct cw_event_header hdr;
    struct cw_flow flow;
    __u32 new_state; /* enum cw_tcp_state */
    __u32 pad;
};

struct cw_event_origin {
    struct cw_event_header hdr;
    __u64 ino;
    struct cw_origin origin;
};

struct cw_event_process {
    struct cw_event_header hdr; /* sk is 0 */
    __u64 task_start_ns;
    __u32 pid;
    __u32 pad;
};

/* Dwarf mode, sent at every connect()/accept() next to the origin it completes. The record is
 * followed by hdr.size - sizeof(struct cw_event_user_stack) bytes of which `stack_bytes` hold
 * the user stack from `sp` upwards. x86-64 registers. */
struct cw_event_user_stack {
    struct cw_event_header hdr; /* sk: the socket being opened */
    __u64 opened_ns;            /* the cw_origin.opened_ns of the same opening */
    __u64 task_start_ns;
    __u64 ip, sp, bp;
    __u32 pid; /* tgid */
    __u32 tid;
    __u32 stack_bytes;
    __u32 pad;
};

/* Per-CPU counters, indices into the `counters` map. Every loss has one. */
enum cw_counter {
    CW_CNT_EVENTS = 0,           /* records submitted to the ring buffer */
    CW_CNT_RINGBUF_FULL,         /* records dropped: ring buffer full */
    CW_CNT_ORIGIN_MAP_FULL,      /* origins not recorded: map full */
    CW_CNT_USER_STACK_LOST,      /* user stack not captured */
    CW_CNT_KERNEL_STACK_LOST,    /* kernel stack not captured */
    CW_CNT_ACCEPT_FD_UNRESOLVED, /* accept() fd could not be read back to its sock */
    CW_CNT_USER_STACK_COPY_LOST, /* dwarf mode: no user registers or stack copy (not x86-64) */
    CW_CNT_MAX,
};

#endif /* CWTRACE_ABI_H */
