/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * cwtrace.bpf.c's settings and maps: the read-only filters and sizes userspace sets before load
 * (so that the verifier prunes what is unused), and every map but Python's (python.bpf.h), with
 * what each keeps and why it is of its kind. Sizes are defaults; userspace may resize before load.
 */
#pragma once

#include "common.bpf.h"

/* Filters, set by userspace before load so the verifier prunes what is unused. */
const volatile __u32 filter_pids[CW_MAX_PID_FILTER] = {};
const volatile __u32 filter_pid_count = 0;
/* --port (either end), --lport, --rport, --remote: filter.bpf.h. */
const volatile __u16 filter_ports[CW_MAX_FLOW_FILTER] = {};
const volatile __u32 filter_port_count = 0;
const volatile __u16 filter_lports[CW_MAX_FLOW_FILTER] = {};
const volatile __u32 filter_lport_count = 0;
const volatile __u16 filter_rports[CW_MAX_FLOW_FILTER] = {};
const volatile __u32 filter_rport_count = 0;
/* --remote ranges: AF_INET or AF_INET6, then address and mask as four words in network order
 * (IPv4: the first word). Plain arrays, not structs: the skeleton's users need no type. */
const volatile __u32 filter_remote_family[CW_MAX_FLOW_FILTER] = {};
const volatile __u32 filter_remote_addr[CW_MAX_FLOW_FILTER][4] = {};
const volatile __u32 filter_remote_mask[CW_MAX_FLOW_FILTER][4] = {};
const volatile __u32 filter_remote_count = 0;
/* Closing stacks are captured only for sockets that stayed in CLOSE_WAIT at least this long
 * (--min-age): a healthy sub-millisecond close then costs no stack walk. */
const volatile __u64 closer_min_age_ns = 0;
/* enum cw_user_stack_mode, and the bytes of user stack copied in dwarf mode (a multiple of
 * CW_USER_STACK_CHUNK, at most CW_MAX_USER_STACK_BYTES). */
const volatile __u32 user_stack_mode = CW_USER_STACKS_FP;
const volatile __u32 user_stack_bytes = CW_DEFAULT_USER_STACK_BYTES;
/* The sizes of the two ring buffers below: their defaults, and as userspace sized them. */
#define EVENTS_RING_BYTES (2 << 20)
#define STACK_COPIES_RING_BYTES (8 << 20)
const volatile __u64 events_bytes = EVENTS_RING_BYTES;
const volatile __u64 stack_copies_bytes = STACK_COPIES_RING_BYTES;

/* One entry per live TCP socket opened while tracing (struct cw_origin_entry): its opener, and
 * whether and since when it is in CLOSE_WAIT. One entry serves the whole life of a followed
 * socket: entering and leaving CLOSE_WAIT cost one lookup each. Preallocated: an insert and a
 * delete on every connection cost less than entries allocated and freed (through RCU) as
 * sockets come and go. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 262144);
    __type(key, __u64); /* struct sock * */
    __type(value, struct cw_origin_entry);
} origins SEC(".maps");

/* The same in the programs that have atomics, on x86-64 (openers.bpf.h): `opener_buckets` of
 * them, set by userspace; 0: the programs keep openers in `origins`. Declared here, beside it:
 * maps are created in this order, and the opener map is the one the kernel may refuse its memory
 * (userspace then tries a smaller one), before the others are made. */
const volatile __u32 opener_buckets = 0;

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(map_flags, BPF_F_MMAPABLE);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct cw_opener_bucket);
} opener_table SEC(".maps");

/* Entries the opener table holds per window of CW_OPENER_WINDOW_BUCKETS buckets, counted per CPU
 * (+1 where one is inserted, -1 where one is deleted: only their sum means anything). Userspace
 * sizes it to the table's windows. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __s64);
} opener_window_use SEC(".maps");

/* Deduplicates opening stacks: a path opening 100,000 sockets is stored once. No
 * BPF_F_REUSE_STACKID: an id, once given, never changes meaning, so a socket can never be
 * shown with another socket's stack; a hash collision is counted as a lost stack instead. */
struct {
    __uint(type, BPF_MAP_TYPE_STACK_TRACE);
    __uint(max_entries, 16384);
    __uint(key_size, sizeof(__u32));
    __uint(value_size, CW_MAX_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

/* The kernel path from a syscall to tcp_v4_connect() does not vary between calls made from the
 * same user code path: its kernel stack is walked once (the walk is the costliest step of an
 * opening) and reused for later sockets opened by the same user stack, syscall, family and
 * protocol. */
struct kernel_path_key {
    __s32 user_stack_id; /* -1 when the user path is named by an unwound stack: */
    __u32 unwound_id;    /* cw_origin.unwound_id, 0 when the stack id names it */
    __u32 syscall_nr;
    __u16 family;
    __u16 protocol;
    __u32 kind;
};

/* The kernel stack id, and the stack generation (below) it was walked in: the recycler may delete
 * the id, or the user stack id in the key, and a later stack take it; an entry of an earlier
 * generation answers nothing. (Userspace also empties the map before it deletes ids, but a walk
 * racing the deletions would store an entry naming a deleted id after that.) */
struct kernel_path {
    __s32 stack_id;
    __u32 generation;
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 4096);
    __type(key, struct kernel_path_key);
    __type(value, struct kernel_path);
} kernel_paths SEC(".maps");

/* When each socket now in CLOSE_WAIT without an origin entry (opened before tracing, or its
 * opener not recorded yet) entered it, so that its close knows how late it is. LRU:
 * when full, the entries of the longest-idle sockets go, and their closes, judged late for
 * want of an entry, are late indeed (stacks captured): nothing is lost. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, __u64); /* struct sock * */
    __type(value, __u64);
} close_wait_since SEC(".maps");

/* Processes already announced to userspace (tgid -> start_boottime), so that it snapshots
 * their mappings while they live, once per process rather than per socket. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 8192);
    __type(key, __u32);
    __type(value, __u64);
} announced SEC(".maps");

/* The process this CPU announced last: a process opening sockets one after another is
 * recognised without a hash lookup. */
struct last_announced {
    __u64 task_start_ns;
    __u32 pid;
    __u32 pad;
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct last_announced);
} last_announced SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, EVENTS_RING_BYTES);
} events SEC(".maps");

/* Quick leaves' rings (struct cw_quick_ring, abi.h): an element per CPU, the header then
 * `quick_slots` records. Userspace sets the slots (a power of two; 0: no rings, every quick
 * leave through `events`), the elements (one per possible CPU) and their size before load, and
 * maps the array to read it. */
const volatile __u32 quick_slots = 0;

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(map_flags, BPF_F_MMAPABLE);
    __uint(max_entries, 1);
    __uint(key_size, sizeof(__u32));
    __uint(value_size, sizeof(struct cw_quick_ring) + sizeof(struct cw_event_leave_quick));
} quick_leaves SEC(".maps");

/* Dwarf mode's stack copies (8 KiB each) have a ring buffer of their own: a burst of connections
 * fills it with copies, never the events above (a lost copy falls back to the frame-pointer
 * stack and is counted). With the unwind memo only openings from paths not seen before send one,
 * but until the first copy of a path is unwound every opening on it sends one. The first copy
 * wakes the reader (submit_flags_of()), yet with every CPU busy churning it may run only at the
 * next scheduler tick: the ring holds the copies sent until then. */
struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, STACK_COPIES_RING_BYTES);
} stack_copies SEC(".maps");

/* Dwarf mode, per thread: the end of its readable stack (page-aligned), where a copy last
 * stopped short. A shallow stack (a thread's first frames) is nearer its top than the bytes
 * copied, and a copy across the top faults: learning where the top is lets the next copy read
 * exactly what is there in one go instead of failing whole and being redone chunk by chunk.
 * Only a hint: a stale entry (the thread id reused) is detected and the copy redone as before. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 8192);
    __type(key, __u32);   /* tid */
    __type(value, __u64); /* first unreadable address above the stack */
} stack_tops SEC(".maps");

/* Dwarf mode: stacks userspace has unwound, with the stack words each unwind read (see struct
 * cw_unwind_memo). Preallocated; one entry in frame-pointer mode. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 1024);
    __type(key, struct cw_unwind_memo_key);
    __type(value, struct cw_unwind_memo);
} unwind_memos SEC(".maps");

/* Where an opening's stack words are read to be compared with a memo: per CPU, reused. */
/* Twice the largest read: the read's size is masked to the array at the call (memo_matches()),
 * a bound no verifier loses, whatever copy of the size clang hands the helper. */
struct memo_scratch {
    unsigned char bytes[2 * CW_MAX_USER_STACK_BYTES];
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct memo_scratch);
} memo_scratch SEC(".maps");

/* Frame-pointer mode: what an opening's user stack was found to be (fp_memo.bpf.h), by the
 * registers it was walked from, as unwind_memos in dwarf mode. The stack words the walk read
 * within CW_MAX_USER_STACK_BYTES of sp are kept as a dwarf memo's are; frames read elsewhere
 * (code without frame pointers leaves any pointer in rbp), up to a few, by address; the caller
 * search's words apart, as they answer only for the caller. A record that a walk could not be
 * memoized (caller_words_used 0) spares the next few openings of the same registers that walk:
 * `retry_in` of them take the kernel's walk alone. */
#define FP_MEMO_FAR_FRAMES 4
#define FP_MEMO_CALLER_WORDS 8 /* CW_LEAF_CALLER_WORDS (fp_memo.bpf.h checks) */
struct fp_memo {
    struct cw_unwind_memo stack;              /* process, address space, the walk's words near sp */
    __u64 far_at[FP_MEMO_FAR_FRAMES];         /* frames read outside the stack words: where, */
    __u64 far_words[FP_MEMO_FAR_FRAMES][2];   /* and what they held (next frame, return address) */
    __u64 caller_words[FP_MEMO_CALLER_WORDS]; /* the caller search's words from sp */
    __u64 leaf_caller;                        /* the origin's leaf_caller */
    __s32 user_stack_id;                      /* the origin's user_stack_id */
    __u32 far_frames;
    __u32 generation; /* stack_generation when the walk began: an older one may name a deleted id */
    __u32 retry_in;   /* no memo: openings left before walking again */
    __u32 caller_words_used; /* of caller_words, those the caller follows from; 0: no memo */
    __u32 pad;
};

/* The memos this CPU matched last (dwarf mode's in `stack`, frame-pointer mode's whole), copied
 * out of unwind_memos or fp_memos, a few by registers: an opening on a path seen here before
 * compares its words with one of them after a look-up that costs a load (a look-up in a hash
 * costs a hash of the key and a walk of its bucket, ~100 ns here, twice a connection). A copy
 * stays right whatever the hash does later: a memo answers from the process, registers and words
 * it names alone, the unwound stacks it names are never reused, and a frame-pointer memo names
 * the stack ids of its generation. Only openings, in process context and never nested in one
 * another on a CPU, use them: no lock. */
#define RECENT_MEMOS 4
struct recent_memo {
    struct cw_unwind_memo_key key; /* sp 0: none */
    struct fp_memo memo;
    /* The kernel path of the last connect() the memo answered (kernel_paths' key and entry):
     * found here, it spares that hash's look-up too. */
    struct kernel_path_key path_key;
    struct kernel_path path;
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, RECENT_MEMOS);
    __type(key, __u32);
    __type(value, struct recent_memo);
} recent_memos SEC(".maps");

/* Frame-pointer mode: the caller searches of openings whose walk a memo answered but not their
 * caller (the words the search passed over differed: a syscall wrapper keeps its arguments
 * there, a descriptor among them), sixteen per CPU by registers and words. Only openings, in
 * process context and never nested in one another on a CPU, use them: no lock. */
#define FP_CALLERS 16
struct fp_caller {
    __u64 task_start_ns;               /* the process, */
    __u64 mm;                          /* its address space, */
    __u64 ip, sp;                      /* and the registers of the search, */
    __u64 words[FP_MEMO_CALLER_WORDS]; /* the words it read, */
    __u64 leaf_caller;                 /* and its answer, */
    __u32 words_used;                  /* which followed from these many words; 0: none */
    __u32 pad;
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, FP_CALLERS);
    __type(key, __u32);
    __type(value, struct fp_caller);
} fp_callers SEC(".maps");

/* Bumped by userspace after it deleted stack ids from `stacks` (user/kernel/stack_recycler.h):
 * a memo of an earlier generation may name a deleted id, which a later stack may take, so it
 * answers nothing. A walk reads the generation before bpf_get_stackid(): one reading the new
 * generation began after the deletions, and got an id that names its stack. */
__u32 stack_generation = 0;

/* When userspace took the time of the last deletions (after the bump, as StackIdLedger counts
 * an id deleted then): an opening that read this before a generation it found new came after
 * it. Read before stack_generation. */
__u64 stack_generation_ns = 0;

/* Preallocated; one entry in dwarf mode. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 1024);
    __type(key, struct cw_unwind_memo_key);
    __type(value, struct fp_memo);
} fp_memos SEC(".maps");

/* Where a walk fills its memo before storing it (too large for the BPF stack): per CPU. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct fp_memo);
} fp_memo_scratch SEC(".maps");

/* Counters by enum cw_counter (every loss among them), a slot per CPU. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, CW_CNT_MAX);
    __type(key, __u32);
    __type(value, __u64);
} counters SEC(".maps");
