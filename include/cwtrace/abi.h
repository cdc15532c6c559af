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
#define CW_MAX_FLOW_FILTER 8  /* values of each of --port, --lport, --rport, --remote */
#define CW_PY_MAX_FRAMES 48   /* Python frames kept per opening stack, innermost first */
#define CW_PY_MAX_THREADS 64  /* thread states searched for the current thread */

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
    __u64 opened_ns;     /* bpf_ktime_get_ns() at connect()/accept(), or a bound (origin.bpf.h) */
    __u64 leaf_caller;   /* word at the user stack pointer: the return address into the
                            syscall wrapper's caller, which a frame-pointer walk skips */
    __u64 task_start_ns; /* the process's start_boottime: with pid, an identity that survives
                            pid reuse (/proc/PID/stat field 22, in clock ticks) */
    __u32 pid;           /* tgid */
    __u32 tid;
    __s32 user_stack_id;   /* id in the stacks map, or -errno when capture failed */
    __s32 kernel_stack_id; /* likewise */
    __u32 kind;            /* enum cw_origin_kind */
    __u32 unwound_id;      /* dwarf mode: 1 + userspace's id of this opening's unwound user
                              stack, when the kernel matched the opening to an earlier unwind
                              (struct cw_unwind_memo) and sent no stack copy; 0: none */
    char comm[CW_COMM_LEN];
    /* One key for either runtime: a process is read as CPython or as Go, never both (Python
     * first), so the Go creator shares the Python stack's word instead of growing every event. */
    union {
        __u64 py_stack_id;   /* key in the py_stacks map when py_status is CW_PY_CAPTURED */
        __u64 go_creator_id; /* key in the go_creators map when go_status is CW_GO_CAPTURED */
    };
    __u32 py_status; /* enum cw_py_status */
    __u32 go_status; /* enum cw_go_status */
};

/* Whether the Python call stack of an origin was captured. */
enum cw_py_status {
    CW_PY_NONE = 0,      /* not a CPython process cwtrace knows of */
    CW_PY_CAPTURED = 1,  /* py_stack_id names the stack */
    CW_PY_NO_THREAD = 2, /* a CPython process, but the thread has no Python thread state */
    CW_PY_LOST = 3,      /* reading the interpreter failed or py_stacks was full */
};

/* Where one CPython process keeps its thread states and frames, written by userspace into the
 * python_procs map (key: tgid). The offsets come from userspace's per-version table, so the
 * kernel side knows no Python version. */
#define CW_PY_NO_OFFSET 0xffff
struct cw_python_proc {
    __u64 runtime_addr; /* &_PyRuntime in the process */
    __u64 start_ticks;  /* the process's start time in clock ticks (/proc/PID/stat field 22): */
    __u64 ns_per_tick;  /* with this, tells the process from a later one reusing its pid */
    __u16 runtime_interp_head;     /* _PyRuntimeState.interpreters.head */
    __u16 interp_threads_head;     /* PyInterpreterState.threads.head */
    __u16 tstate_next;             /* PyThreadState.next */
    __u16 tstate_native_thread_id; /* PyThreadState.native_thread_id (the kernel tid) */
    __u16 tstate_cframe;        /* PyThreadState.cframe; CW_PY_NO_OFFSET: the frame is in tstate */
    __u16 cframe_current_frame; /* _PyCFrame.current_frame (or PyThreadState's, see above) */
    __u16 frame_code;           /* _PyInterpreterFrame.f_code */
    __u16 frame_previous;       /* _PyInterpreterFrame.previous */
    __u16 frame_prev_instr;     /* _PyInterpreterFrame.prev_instr */
    __u16 code_adaptive;        /* PyCodeObject.co_code_adaptive: the first code unit */
    __u16 pad[6];
};

/* One Python frame: the code object and the byte offset of the instruction in it. */
struct cw_py_frame {
    __u64 code;
    __u32 offset;
    __u32 pad;
};

/* A Python call stack, innermost first; the value of the py_stacks map. */
struct cw_py_stack {
    __u32 depth;
    __u32 truncated; /* deeper than CW_PY_MAX_FRAMES: the outermost frames are missing */
    struct cw_py_frame frames[CW_PY_MAX_FRAMES];
};

/* Whether the creator of the goroutine that opened a socket was captured (Go processes). */
enum cw_go_status {
    CW_GO_NONE = 0,         /* not a Go process cwtrace knows of (or a CPython one) */
    CW_GO_CAPTURED = 1,     /* go_creator_id names the creator */
    CW_GO_MAIN = 2,         /* the main goroutine (goid 1): nobody's creation, as Go shows it */
    CW_GO_NO_GOROUTINE = 3, /* no goroutine found: a thread running C code, or an unknown g */
    CW_GO_LOST = 4,         /* reading the goroutine failed or go_creators was full */
};

#define CW_GO_MAX_ANCESTORS 2 /* creating goroutines kept per opening (tracebackancestors) */
#define CW_GO_MAX_PCS 32      /* frames kept of each creating goroutine's stack */

/* Where the goroutine fields are in one Go process, written by userspace into the go_procs map
 * (key: tgid) from its per-version table: the kernel side knows no Go version. */
struct cw_go_proc {
    __u64 start_ticks;   /* as in cw_python_proc: with ns_per_tick, tells the process from a */
    __u64 ns_per_tick;   /* later one reusing its pid */
    __u64 text_start;    /* the executable's code in the process: a creator's pc outside it */
    __u64 text_end;      /* means the g read is not a goroutine (C code, a wrong table) */
    __u16 g_goid;        /* runtime.g.goid */
    __u16 g_gopc;        /* runtime.g.gopc: the pc after the go statement that created it */
    __u16 g_ancestors;   /* runtime.g.ancestors: *[]ancestorInfo (GODEBUG=tracebackancestors) */
    __u16 ancestor_size; /* sizeof(runtime.ancestorInfo); its pcs slice is at offset 0 */
    __u16 ancestor_goid; /* runtime.ancestorInfo.goid */
    __u16 ancestor_gopc; /* runtime.ancestorInfo.gopc */
    __u16 pad[2];
};

/* One creating goroutine, as the runtime saved it when it ran the go statement. */
struct cw_go_ancestor {
    __u64 gopc;      /* where it was itself created (a return address) */
    __u32 depth;     /* pcs kept, innermost first (return addresses) */
    __u16 truncated; /* its stack was deeper than CW_GO_MAX_PCS */
    __u16 main;      /* it is the main goroutine (goid 1), created by no one */
    __u64 pcs[CW_GO_MAX_PCS];
};

/* Who created the goroutine that opened a socket; the value of the go_creators map, keyed by a
 * hash of it (goroutine ids are left out: they would make every opening a new entry). */
struct cw_go_creator {
    __u64 gopc;      /* the pc after the go statement that created the opening goroutine */
    __u32 ancestors; /* entries of ancestor[] filled: 0 without GODEBUG=tracebackancestors */
    __u32 pad;
    struct cw_go_ancestor ancestor[CW_GO_MAX_ANCESTORS]; /* its creator first */
};

/* Ring-buffer record types. */
enum cw_event_type {
    CW_EV_ENTER_CLOSE_WAIT = 1, /* a socket moved into CLOSE_WAIT */
    CW_EV_LEAVE_CLOSE_WAIT = 2, /* a socket moved out of CLOSE_WAIT */
    CW_EV_ORIGIN = 3,           /* accept() returned a socket already in CLOSE_WAIT */
    CW_EV_PROCESS = 4,          /* a process opened its first socket: snapshot its mappings */
    CW_EV_EXEC = 5,             /* a process called execve(): is it a Python interpreter now? */
    CW_EV_USER_STACK = 6,       /* dwarf mode: user registers and stack copy at an opening */
    CW_EV_LEAVE_QUICK = 7,      /* a followed socket left CLOSE_WAIT younger than --min-age */
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

/* A socket whose opener was recorded has no record sent when it enters CLOSE_WAIT: it is noted
 * in its entry of the kernel's `origins` map (key: struct sock address), which userspace reads
 * for the report; its leave record carries the opener. Sockets without an opener entry (opened
 * before tracing, not yet accepted) send this record. */
struct cw_event_enter {
    struct cw_event_header hdr;
    __u64 ino; /* socket inode, 0 when no struct socket is attached yet */
    struct cw_flow flow;
    __u32 has_origin;
    __u32 pad;
    struct cw_origin origin;
};

/* How a socket left CLOSE_WAIT, judged in the kernel where it happened. */
enum cw_close_kind {
    CW_CLOSE_UNKNOWN = 0,
    CW_CLOSE_CLOSE = 1,  /* close()/shutdown() by a process: -> LAST_ACK, FIN sent */
    CW_CLOSE_RESET = 2,  /* -> CLOSE: the peer's RST (softirq), or the closing process aborted
                            the connection (close() with unread data, SO_LINGER 0) */
    CW_CLOSE_EXIT = 3,   /* closed while its process was exiting (PF_EXITING) */
    CW_CLOSE_KERNEL = 4, /* no process context: a timer (keepalive, retransmits), a kthread */
};

/* Stack ids of a closer whose stacks were not captured on purpose (a close younger than
 * min-age, or a context without a user stack): not a loss. */
#define CW_STACK_NOT_WANTED (-1000)

struct cw_event_leave {
    struct cw_event_header hdr;
    struct cw_flow flow;
    __u32 new_state; /* enum cw_tcp_state */
    __u32 pad;
    /* Who closed it. */
    __u64 close_wait_ns;     /* time in CLOSE_WAIT as the kernel saw it; 0: entry not seen */
    __u32 close_kind;        /* enum cw_close_kind */
    __u32 has_closer;        /* closer is the process that closed it (process context) */
    struct cw_origin closer; /* pid, tid, comm, stacks of the closing thread; kind = close_kind */
    __u32 has_origin;        /* origin is the socket's opener, as recorded at connect/accept */
    __u32 pad2;
    struct cw_origin origin;
};

/* A followed socket left CLOSE_WAIT before --min-age: what userspace uses of such a close (the
 * socket is known by hdr.sk; its closer's stacks were not wanted), half a cw_event_leave, at
 * every connection of a churn. Decoded into a cw_event_leave with no flow and a closer of pid,
 * tid and kind only. */
struct cw_event_leave_quick {
    struct cw_event_header hdr;
    __u32 new_state;     /* enum cw_tcp_state */
    __u32 close_kind;    /* enum cw_close_kind */
    __u64 close_wait_ns; /* never 0: the entry was seen */
    __u32 has_closer;
    __u32 closer_pid;
    __u32 closer_tid;
    __u32 has_origin; /* as in cw_event_leave */
    struct cw_origin origin;
};

/* Quick leaves, the one record of every healthy connection, go through a ring per CPU of their
 * own rather than the `events` ring buffer, whose reservation takes a lock with interrupts off
 * (on a paravirtualised guest, enabling them again was most of the record's cost). An element of
 * the mmapable array `quick_leaves` per CPU: this header, then `slots` records (a power of two,
 * set at load). Only that CPU's run of the state-change program writes it (a program never runs
 * nested in itself on a CPU); userspace reads it. A record goes to the ring buffer as before
 * when its CPU's ring is full, and always off x86-64 (the record is published by the order of
 * two stores). */
struct cw_quick_ring {
    __u64 head;   /* records written, free-running; advanced after the record is written */
    __u64 pad[7]; /* head and tail on cache lines of their own */
    __u64 tail;   /* records read, written by userspace */
    __u64 pad2[7];
    /* struct cw_event_leave_quick slots[]; */
};
#define CW_QUICK_RING_MAX_SLOTS 4096

/* A socket's entry in the kernel's `origins` map: its opener, and once it is in CLOSE_WAIT, when
 * it entered and what cw_event_enter would say of it. */
struct cw_origin_entry {
    struct cw_origin origin;
    __u64 close_wait_since; /* bpf_ktime_get_ns() at its entry; 0: not in CLOSE_WAIT, or entered
                               before its opener was recorded (then a cw_event_enter was sent) */
    __u64 ino;              /* as in cw_event_enter, set with close_wait_since */
    struct cw_flow flow;    /* likewise */
};

/* The opener table: where the direct and probed programs keep cw_origin_entry on x86-64, in place
 * of the `origins` hash map (which the _compat programs keep). A hash map takes a bucket lock
 * with interrupts off for every insert and delete, two of each per connection; here a slot is
 * claimed by a compare-and-swap on its key and freed by a store. An entry lives in the bucket its
 * key hashes to first, or when that one is full in its second choice, which the first bucket
 * then counts in `spilled` (lookups look there only while it is not 0). Userspace maps the table
 * read-only. A bucket is 1 KiB, its keys on a cache line of their own. */
#define CW_OPENER_WAYS 7
/* Buckets a window of the table holds (4 MiB): the programs count each window's entries per CPU
 * (opener_window_use), so that a read maps only the windows that hold some. */
#define CW_OPENER_WINDOW_BUCKETS 4096
#define CW_OPENER_WRITING 1ULL /* in a key's low bit: the entry is being written */
struct cw_opener_bucket {
    __u64 keys[CW_OPENER_WAYS]; /* struct sock address; 0: free; | CW_OPENER_WRITING */
    __u64 spilled;              /* entries of keys hashing here held in their second choice */
    struct cw_origin_entry entries[CW_OPENER_WAYS];
    __u8 generations[8]; /* per way, bumped when it is claimed: a reader's copy of an entry holds
                            if the way's generation and key were the same before and after */
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

struct cw_event_exec {
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
    __u64 mm;  /* the address space (struct mm_struct *): a new one after execve() */
    __u32 pid; /* tgid */
    __u32 tid;
    __u32 stack_bytes;
    __u32 pad;
};

/* Dwarf mode's unwind memo, written by userspace into the unwind_memos map after it unwound a
 * stack copy. An unwind's result depends only on the registers it starts from and the stack
 * words it reads: an opening of the same process with the same ip, sp and bp whose stack holds
 * the same values at the same offsets unwinds to the same frames. The kernel side compares those
 * words and, when they match, records `unwound_id` in the origin instead of sending a copy. */
#define CW_UNWIND_MEMO_WORDS 256
struct cw_unwind_memo_key {
    __u32 pid; /* tgid */
    __u32 pad;
    __u64 ip, sp, bp;
};

struct cw_unwind_memo {
    __u64 task_start_ns; /* the process (with the key's pid), */
    __u64 mm;            /* and its address space: the frames are addresses in it */
    __u32 unwound_id;    /* userspace's id of the unwound stack */
    __u16 words;         /* values[0, words) are compared */
    __u16 span;          /* bytes from sp read to compare them: the last offset + 8 */
    __u64 values[CW_UNWIND_MEMO_WORDS];
    __u16 offsets[CW_UNWIND_MEMO_WORDS]; /* from sp, multiples of 8, below span */
};

/* fd_walk.bpf.c: which process holds which socket, read from every process's file table (the
 * job of a /proc/PID/fd scan, ~40 times faster). One record per socket found. */
struct cw_held_socket {
    __u64 ino;
    __u32 pid; /* tgid, as the host sees it */
    __u32 fd;
};

/* The walk's state between runs: each run looks at a bounded number of descriptors and says
 * where it stopped; the next run resumes there. */
struct cw_fd_walk {
    __u64 start_ns; /* in: the process stopped in (start_boottime), with pid and next_fd */
    __u32 pid;      /* in/out: 0 before the first run */
    __u32 next_fd;
    __u32 done;      /* out: every process looked at */
    __u32 self_pid;  /* out: the tgid of the task that ran the walk (the caller's, host view) */
    __u64 processes; /* out, summed over runs: processes whose table was read to the end */
    __u64 fds;       /* out, summed: open descriptors looked at */
    __u64 found;     /* out, summed: records sent */
};

/* Per-CPU counters, indices into the `counters` map. Every loss has one. */
enum cw_counter {
    CW_CNT_RINGBUF_FULL = 0,     /* records dropped: ring buffer full */
    CW_CNT_ORIGIN_MAP_FULL,      /* origins not recorded: map full */
    CW_CNT_USER_STACK_LOST,      /* user stack not captured */
    CW_CNT_KERNEL_STACK_LOST,    /* kernel stack not captured */
    CW_CNT_ACCEPT_FD_UNRESOLVED, /* accept() fd could not be read back to its sock */
    CW_CNT_PY_STACK_LOST,        /* Python stack of a CPython process not captured (a loss) */
    CW_CNT_PY_NO_THREAD,         /* CPython process, thread without a Python thread state (not
                                    a loss: a native thread opened the socket) */
    CW_CNT_USER_STACK_COPY_LOST, /* dwarf mode: no stack copy (not x86-64, copy ring buffer full) */
    CW_CNT_UNWIND_MEMO_HITS,     /* dwarf mode: openings matched to an earlier unwind (no copy
                                    sent; not a loss) */
    CW_CNT_FP_MEMO_HITS,         /* fp mode: openings matched to an earlier frame-pointer walk
                                    (its stack id and caller reused; not a loss) */
    CW_CNT_FP_MEMO_MISSES,       /* fp mode: openings walked (no memo, or one that differed) */
    CW_CNT_FP_MEMO_CALLER_SEARCHES, /* fp mode: of the matched openings, those whose caller was
                                       searched again (the words it passed over differed) */
    CW_CNT_MAX,
};

#endif /* CWTRACE_ABI_H */
