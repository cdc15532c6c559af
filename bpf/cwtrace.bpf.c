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
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "cwtrace/abi.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define SOCK_STREAM 1
#define PF_KTHREAD 0x00200000
#define PF_IO_WORKER 0x00000010

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Kernel objects the programs are handed as bare addresses (the raw tracepoint's socket, a file's
 * socket) are read in one of two ways, fixed per program variant by the constant `direct`:
 * - direct (kernel 6.2+): bpf_rdonly_cast() gives the address its kernel type, and each field is
 *   one load, a fault caught by the kernel as bpf_probe_read_kernel() would (~1.3 us less per
 *   connection than the helper calls, a fifth of the programs' cost);
 * - probed (older kernels): bpf_probe_read_kernel() per field.
 * Userspace loads the direct programs, and the `_probed` ones when the kernel refuses those; the
 * probed ones hold no kfunc call, which an older kernel refuses even in dead code. */
extern void* bpf_rdonly_cast(const void* obj, __u32 btf_id) __ksym __weak;

#define KCAST(direct, type, addr)                                                    \
    ((direct) ? (type*)bpf_rdonly_cast((void*)(addr), bpf_core_type_id_kernel(type)) \
              : (type*)(addr))
#define KREAD(direct, src, ...) \
    ((direct) ? ___arrow(src, __VA_ARGS__) : BPF_CORE_READ(src, __VA_ARGS__))
#define KREAD_BITFIELD(direct, src, field) \
    ((direct) ? BPF_CORE_READ_BITFIELD(src, field) : BPF_CORE_READ_BITFIELD_PROBED(src, field))

/* Filters, set by userspace before load so the verifier prunes what is unused. */
const volatile __u32 filter_pids[CW_MAX_PID_FILTER] = {};
const volatile __u32 filter_pid_count = 0;
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

/* Sizes below are defaults; userspace may resize before load. `origins` holds one entry per
 * live TCP socket opened while tracing (struct cw_origin_entry): its opener, and whether and since
 * when it is in CLOSE_WAIT. One entry serves the whole life of a followed socket: entering and
 * leaving CLOSE_WAIT cost one lookup each. Preallocated (~55 MB of kernel memory): an insert and a
 * delete on every connection cost ~900 ns less than with entries allocated and freed (through
 * RCU) as sockets come and go. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 262144);
    __type(key, __u64); /* struct sock * */
    __type(value, struct cw_origin_entry);
} origins SEC(".maps");

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
 * opening, ~1-3 us) and reused for later sockets opened by the same user stack, syscall, family
 * and protocol. */
struct kernel_path_key {
    __s32 user_stack_id; /* -1 when the user path is named by an unwound stack: */
    __u32 unwound_id;    /* cw_origin.unwound_id, 0 when the stack id names it */
    __u32 syscall_nr;
    __u16 family;
    __u16 protocol;
    __u32 kind;
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 4096);
    __type(key, struct kernel_path_key);
    __type(value, __s32); /* kernel stack id */
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

/* Dwarf mode's stack copies (8 KiB each) have a ring buffer of their own: a burst of connections
 * fills it with copies, never the events above (a lost copy falls back to the frame-pointer
 * stack and is counted). With the unwind memo only openings from paths not seen before send one,
 * but until the first copy of a path is unwound every opening on it sends one. The first copy
 * wakes the reader (submit_flags_of()), yet with both CPUs busy churning it may run only at
 * the next scheduler tick (4 ms here): 2 threads churning (~110,000 openings a second) sent up
 * to ~480 copies by then, which lost copies in a 4 MB ring (~500) one start in five; 8 MB
 * (~1,000) holds twice that. */
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
 * cw_unwind_memo). ~2.5 KiB per entry, preallocated (2.6 MB); one entry in frame-pointer mode. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 1024);
    __type(key, struct cw_unwind_memo_key);
    __type(value, struct cw_unwind_memo);
} unwind_memos SEC(".maps");

/* Where an opening's stack words are read to be compared with a memo: per CPU, reused. */
struct memo_scratch {
    unsigned char bytes[CW_MAX_USER_STACK_BYTES];
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct memo_scratch);
} memo_scratch SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, CW_CNT_MAX);
    __type(key, __u32);
    __type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which) {
    __u64* value = bpf_map_lookup_elem(&counters, &which);

    if (value) *value += 1; /* per-CPU slot: no atomics needed */
}

#include "python.bpf.h"

static __always_inline bool pid_selected(__u32 tgid) {
    if (filter_pid_count == 0) return true;
    for (__u32 i = 0; i < CW_MAX_PID_FILTER; i++) {
        if (i >= filter_pid_count) break;
        if (filter_pids[i] == tgid) return true;
    }
    return false;
}

/* Waking the consumer per event halves connection throughput; it drains on a timer instead,
 * and is only woken early when the buffer is half full. `size`: the ring's, set at load.
 * `lone_bytes` (non-zero): a record of that size alone in the ring wakes it too — a stack
 * copy, whose unwind memo, in the kernel ~1 ms later, spares the copies of every later opening
 * on its path (waiting for half the ring, a burst of openings on a new path, ~110 a
 * millisecond, outran the memo). */
static __always_inline __u64 submit_flags_of(void* ringbuf, __u64 size, __u64 lone_bytes) {
    __u64 queued = bpf_ringbuf_query(ringbuf, BPF_RB_AVAIL_DATA);

    return queued > size / 2 || queued < 2 * lone_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline __u64 submit_flags(void) {
    return submit_flags_of(&events, events_bytes, 0);
}

static __always_inline __u64 sock_ino(const struct sock* sk, const bool direct) {
    struct socket* sock = KREAD(direct, sk, sk_socket);

    if (!sock) return 0; /* not accepted yet */
    return KREAD(direct, sock, file, f_inode, i_ino);
}

/* The user registers of the current task (bpf_task_pt_regs(): 5.15+, as a typed pointer its
 * fields are read directly, no helper call each). */
static __always_inline struct pt_regs* user_regs(struct task_struct* task) {
    return (struct pt_regs*)bpf_task_pt_regs(task);
}

/* The word at the user stack pointer when the syscall was made. A syscall wrapper such as
 * glibc's connect() sets up no frame, so a frame-pointer walk skips its caller; this is that
 * caller's return address when the wrapper pushed nothing (userspace validates it). */
static __always_inline __u64 user_leaf_caller(struct pt_regs* regs) {
    __u64 word = 0;

    bpf_probe_read_user(&word, sizeof(word), (void*)PT_REGS_SP(regs));
    return word;
}

/* The number of the syscall the current task is in (its user registers), 0 when unknown. */
static __always_inline __u32 syscall_nr(struct pt_regs* regs) {
#if defined(bpf_target_x86)
    return (__u32)regs->orig_ax;
#elif defined(bpf_target_arm64)
    return (__u32)regs->syscallno;
#else
    return 0;
#endif
}

/* `now`: the one bpf_ktime_get_ns() of the program's run (a clock read is not free). */
static __always_inline void fill_header(struct cw_event_header* hdr, __u32 type, __u32 size,
                                        __u64 sk, __u64 now) {
    hdr->type = type;
    hdr->size = size;
    hdr->ts_ns = now;
    hdr->sk = sk;
}

static __always_inline void announce_process(__u32 pid, __u64 task_start_ns, __u64 now) {
    __u32 zero = 0;
    struct last_announced* last = bpf_map_lookup_elem(&last_announced, &zero);
    struct cw_event_process* event;
    __u64* known;

    if (last && last->pid == pid && last->task_start_ns == task_start_ns) return;
    known = bpf_map_lookup_elem(&announced, &pid);
    if (known && *known == task_start_ns) {
        if (last) {
            last->pid = pid;
            last->task_start_ns = task_start_ns;
        }
        return;
    }
    event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
    if (!event) {
        count(CW_CNT_RINGBUF_FULL);
        return; /* not remembered: the next socket of this process tries again */
    }
    fill_header(&event->hdr, CW_EV_PROCESS, sizeof(*event), 0, now);
    event->task_start_ns = task_start_ns;
    event->pid = pid;
    event->pad = 0;
    bpf_ringbuf_submit(event, submit_flags());
    bpf_map_update_elem(&announced, &pid, &task_start_ns, BPF_ANY);
}

/* The thread group leader's start time since boot, as /proc/PID/stat shows it. */
static __always_inline __u64 task_start_ns(struct task_struct* task) {
    return task->group_leader->start_boottime;
}

/* What the kernel path of a connect() follows from. The user path is named by its
 * frame-pointer stack id, or in dwarf mode by the unwound stack an unwind memo matched. */
static __always_inline __s32 connect_kernel_stack(void* ctx, struct task_struct* task,
                                                  struct pt_regs* regs,
                                                  const struct cw_origin* origin,
                                                  const struct sock* sk, const bool direct) {
    struct kernel_path_key key = {};
    __s32 *known, id;

    /* Kernel threads and io_uring workers reach connect() by other paths: always walk. */
    if ((origin->user_stack_id < 0 && !origin->unwound_id) ||
        (task->flags & (PF_KTHREAD | PF_IO_WORKER)))
        return bpf_get_stackid(ctx, &stacks, 0);
    key.user_stack_id = origin->unwound_id ? -1 : origin->user_stack_id;
    key.unwound_id = origin->unwound_id;
    key.syscall_nr = syscall_nr(regs);
    key.family = KREAD(direct, sk, __sk_common.skc_family);
    key.protocol = KREAD_BITFIELD(direct, sk, sk_protocol);
    key.kind = CW_ORIGIN_CONNECT;
    known = bpf_map_lookup_elem(&kernel_paths, &key);
    if (known) return *known;
    id = bpf_get_stackid(ctx, &stacks, 0);
    if (id >= 0) bpf_map_update_elem(&kernel_paths, &key, &id, BPF_ANY);
    return id;
}

/* Dwarf mode: what an opening's user stack unwinds from, the registers and address space. */
struct user_state {
    struct cw_unwind_memo_key key; /* pid, ip, sp, bp */
    __u64 mm;
};

#if defined(__TARGET_ARCH_x86)
/* Words of a memo compared inline, before a bpf_loop() over the rest. */
#define MEMO_INLINE_WORDS 8

struct memo_compare {
    struct cw_unwind_memo* memo;
    struct memo_scratch* scratch; /* the stack from sp, span bytes */
    __u32 span;
    __u32 differs;
};

/* One word of a memo against the stack read. */
static long memo_compare_step(__u64 i, void* data) {
    struct memo_compare* c = data;
    __u32 offset;

    i += MEMO_INLINE_WORDS; /* the first ones were compared inline */
    if (i >= CW_UNWIND_MEMO_WORDS) return 1;
    /* Userspace writes multiples of 8 below span; the mask keeps the verifier's bound. */
    offset = c->memo->offsets[i] & (CW_MAX_USER_STACK_BYTES - 8);
    if (offset + 8 > c->span || *(__u64*)(c->scratch->bytes + offset) != c->memo->values[i]) {
        c->differs = 1;
        return 1;
    }
    return 0;
}

#endif

/* Dwarf mode: whether this opening unwinds as an earlier one did: the memo of the same process,
 * address space and registers, and the same values in every stack word that unwind read. Then
 * its origin names that unwind, and no copy of the stack is needed. */
static __always_inline bool memo_matches(const struct user_state* state, struct cw_origin* origin) {
#if defined(__TARGET_ARCH_x86)
    struct cw_unwind_memo* memo = bpf_map_lookup_elem(&unwind_memos, &state->key);
    struct memo_compare compare;
    struct memo_scratch* scratch;
    __u32 zero = 0, span;

    if (!memo || memo->task_start_ns != origin->task_start_ns || memo->mm != state->mm)
        return false;
    span = memo->span;
    if (span > CW_MAX_USER_STACK_BYTES || memo->words > CW_UNWIND_MEMO_WORDS) return false;
    scratch = bpf_map_lookup_elem(&memo_scratch, &zero);
    if (!scratch) return false;
    if (span && bpf_probe_read_user(scratch->bytes, span, (void*)state->key.sp)) return false;
    /* The first words inline (an opening's stack is a few frames as a rule, and each step of
     * bpf_loop() is an indirect call); the rest in a loop the verifier checks once (a bounded
     * loop is checked per iteration, ~25 ms each program at start-up). */
    for (__u32 i = 0; i < MEMO_INLINE_WORDS; i++) {
        __u32 offset;

        if (i >= memo->words) break;
        offset = memo->offsets[i] & (CW_MAX_USER_STACK_BYTES - 8);
        if (offset + 8 > span || *(__u64*)(scratch->bytes + offset) != memo->values[i])
            return false;
    }
    if (memo->words > MEMO_INLINE_WORDS) {
        compare.memo = memo;
        compare.scratch = scratch;
        compare.span = span;
        compare.differs = 0;
        bpf_loop(memo->words - MEMO_INLINE_WORDS, memo_compare_step, &compare, 0);
        if (compare.differs) return false;
    }
    origin->unwound_id = memo->unwound_id + 1;
    count(CW_CNT_UNWIND_MEMO_HITS);
    return true;
#else
    return false;
#endif
}

/* `now`: the opening's time. Dwarf mode fills `state` for the stack copy. */
static __always_inline void fill_origin(void* ctx, struct cw_origin* origin, __u32 kind,
                                        const struct sock* sk, __u64 now, struct user_state* state,
                                        const bool direct) {
    struct task_struct* task = bpf_get_current_task_btf();
    struct pt_regs* regs = user_regs(task);
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    bool memoized = false;

    origin->opened_ns = now;
    origin->pid = pid_tgid >> 32;
    origin->tid = (__u32)pid_tgid;
    origin->kind = kind;
    __builtin_memcpy(origin->comm, task->comm, sizeof(origin->comm)); /* no helper call */
    origin->task_start_ns = task_start_ns(task);
#if defined(__TARGET_ARCH_x86)
    if (user_stack_mode == CW_USER_STACKS_DWARF) {
        state->key.pid = origin->pid;
        state->key.ip = regs->ip;
        state->key.sp = regs->sp;
        state->key.bp = regs->bp;
        state->mm = (__u64)task->mm;
        memoized = memo_matches(state, origin);
    }
#endif
    if (memoized) {
        /* The unwound stack is known: the frame-pointer walk, its fallback, is not needed. */
        origin->user_stack_id = CW_STACK_NOT_TAKEN;
        origin->leaf_caller = 0;
    } else {
        origin->user_stack_id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
        if (origin->user_stack_id < 0) count(CW_CNT_USER_STACK_LOST);
        origin->leaf_caller = user_leaf_caller(regs);
    }
    if (kind == CW_ORIGIN_CONNECT) {
        origin->kernel_stack_id = connect_kernel_stack(ctx, task, regs, origin, sk, direct);
        if (origin->kernel_stack_id < 0) count(CW_CNT_KERNEL_STACK_LOST);
    } else {
        /* At accept()'s syscall exit the kernel stack is only the exit path: not worth a walk. */
        origin->kernel_stack_id = CW_STACK_NOT_TAKEN;
    }
    py_capture(origin);
    announce_process(origin->pid, origin->task_start_ns, now);
}

/* Bytes of user stack at `sp` to copy in one go: user_stack_bytes, or fewer when the thread's
 * stack top is known to be nearer (whole chunks only, as a chunk-by-chunk copy would stop). */
static __always_inline __u32 user_stack_hint(__u32 tid, __u64 sp, __u64* known_top) {
    __u64* top = bpf_map_lookup_elem(&stack_tops, &tid);
    __u64 room;

    *known_top = top ? *top : 0;
    if (!top || *top <= sp) return user_stack_bytes;
    room = (*top - sp) / CW_USER_STACK_CHUNK * CW_USER_STACK_CHUNK;
    return room < user_stack_bytes ? (__u32)room : user_stack_bytes;
}

/* Dwarf mode: the user registers and a copy of the user stack, so that userspace can unwind
 * code built without frame pointers with its CFI; nothing when the opening matched an earlier
 * unwind (memo_matches). A copy that faults (the top of the stack is nearer than
 * user_stack_bytes) is redone in chunks, up to the first chunk that faults; where that was is
 * remembered per thread, so that its next copy reads just that much at once (and goes on chunk
 * by chunk from there if more is readable). The bytes copied are the same. */
static __always_inline void emit_user_stack(__u64 sk, const struct cw_origin* origin,
                                            const struct user_state* state) {
#if defined(__TARGET_ARCH_x86)
    struct cw_event_user_stack* event;
    unsigned char* stack;
    __u32 chunks = user_stack_bytes / CW_USER_STACK_CHUNK, first = 0, hint;
    __u64 sp = state->key.sp, top, known_top;

    if (user_stack_mode != CW_USER_STACKS_DWARF || origin->unwound_id) return;
    /* user_stack_bytes is read-only data: the verifier sees a constant size. */
    event = bpf_ringbuf_reserve(&stack_copies, sizeof(*event) + user_stack_bytes, 0);
    if (!event) {
        count(CW_CNT_USER_STACK_COPY_LOST);
        return;
    }
    fill_header(&event->hdr, CW_EV_USER_STACK, sizeof(*event) + user_stack_bytes, sk,
                origin->opened_ns);
    event->opened_ns = origin->opened_ns;
    event->task_start_ns = origin->task_start_ns;
    event->pid = origin->pid;
    event->tid = origin->tid;
    event->ip = state->key.ip;
    event->sp = sp;
    event->bp = state->key.bp;
    event->mm = state->mm;
    event->stack_bytes = 0;
    event->pad = 0;
    stack = (unsigned char*)(event + 1);
    /* One copy of what is known readable (the whole slice as a rule); chunk by chunk after it. */
    hint = user_stack_hint(origin->tid, sp, &known_top);
    if (hint > user_stack_bytes) hint = user_stack_bytes; /* for the verifier */
    if (!bpf_probe_read_user(stack, hint, (void*)sp)) first = hint / CW_USER_STACK_CHUNK;
    event->stack_bytes = first * CW_USER_STACK_CHUNK;
    for (__u32 i = 0; i < CW_MAX_USER_STACK_BYTES / CW_USER_STACK_CHUNK; i++) {
        if (i >= chunks) break;
        if (i < first) continue;
        if (bpf_probe_read_user(stack + i * CW_USER_STACK_CHUNK, CW_USER_STACK_CHUNK,
                                (void*)(sp + i * CW_USER_STACK_CHUNK)))
            break;
        event->stack_bytes = (i + 1) * CW_USER_STACK_CHUNK;
    }
    /* Stopped short: the chunk after the copy faulted, so the page boundary within it (or at
     * its start) is the top. Not short, having read past a top known for this thread id: that
     * top was stale (the id reused), forget it. */
    if (event->stack_bytes < user_stack_bytes) {
        top = (sp + event->stack_bytes + 4095) & ~4095ULL;
        if (top != known_top) bpf_map_update_elem(&stack_tops, &origin->tid, &top, BPF_ANY);
    } else if (known_top && known_top < sp + user_stack_bytes) {
        bpf_map_delete_elem(&stack_tops, &origin->tid);
    }
    bpf_ringbuf_submit(event, submit_flags_of(&stack_copies, stack_copies_bytes,
                                              sizeof(*event) + user_stack_bytes));
#else
    /* Registers are read as x86-64's; elsewhere the frame-pointer stack stands alone. */
    (void)sk;
    (void)origin;
    (void)state;
    if (user_stack_mode == CW_USER_STACKS_DWARF) count(CW_CNT_USER_STACK_COPY_LOST);
#endif
}

/* With --pid: set once a selected process has opened a socket. Until then nothing is followed,
 * and a state change costs what it costs an empty program (no map lookups, no deletes). */
__u32 following = 0;

static __always_inline void remember_origin(__u64 sk, const struct cw_origin_entry* entry) {
    if (bpf_map_update_elem(&origins, &sk, entry, BPF_ANY)) count(CW_CNT_ORIGIN_MAP_FULL);
    if (filter_pid_count && !following) following = 1;
}

static __always_inline bool is_tcp(const struct sock* sk, const bool direct) {
    __u16 family = KREAD(direct, sk, __sk_common.skc_family);

    if (family != AF_INET && family != AF_INET6) return false;
    return KREAD_BITFIELD(direct, sk, sk_type) == SOCK_STREAM &&
           KREAD_BITFIELD(direct, sk, sk_protocol) == IPPROTO_TCP;
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

    event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
    if (!event) {
        count(CW_CNT_RINGBUF_FULL);
        return;
    }
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

#define CW_PF_EXITING 0x00000004
#define CW_PF_KTHREAD 0x00200000
#define CW_EPIPE 32
#define CW_ECONNRESET 104

/* tcp_reset() sets EPIPE (ECONNRESET on older kernels) before tcp_done(): the peer's RST. */
static __always_inline bool reset_by_peer(const struct sock* sk, int new_state, const bool direct) {
    int err = KREAD(direct, sk, sk_err);

    return new_state == CW_TCP_CLOSE && (err == CW_EPIPE || err == CW_ECONNRESET);
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

static __always_inline __u32 close_kind(int new_state, bool task, bool reset) {
    if (task) {
        unsigned int flags = bpf_get_current_task_btf()->flags;

        if (flags & CW_PF_KTHREAD) return CW_CLOSE_KERNEL;
        if (flags & CW_PF_EXITING) return CW_CLOSE_EXIT;
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
                                        __u64 now) {
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
    closer->task_start_ns = task_start_ns(bpf_get_current_task_btf());
    closer->kernel_stack_id = bpf_get_stackid(ctx, &stacks, 0);
    if (closer->kernel_stack_id < 0) count(CW_CNT_KERNEL_STACK_LOST);
    if (kind == CW_CLOSE_EXIT || kind == CW_CLOSE_KERNEL) return;
    closer->user_stack_id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
    if (closer->user_stack_id < 0) count(CW_CNT_USER_STACK_LOST);
    closer->leaf_caller = user_leaf_caller(user_regs(bpf_get_current_task_btf()));
    announce_process(closer->pid, closer->task_start_ns, now);
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

/* A close younger than --min-age of a followed socket: one small record. */
static __always_inline void emit_leave_quick(__u64 sk, int new_state, bool task, bool reset,
                                             __u64 age, __u64 now,
                                             const struct cw_origin_entry* entry) {
    struct cw_event_leave_quick* event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
    __u64 pid_tgid = bpf_get_current_pid_tgid();

    if (!event) {
        count(CW_CNT_RINGBUF_FULL);
        return;
    }
    fill_header(&event->hdr, CW_EV_LEAVE_QUICK, sizeof(*event), sk, now);
    event->new_state = new_state;
    event->close_kind = close_kind(new_state, task, reset);
    event->close_wait_ns = age;
    event->has_closer = task;
    event->closer_pid = task ? pid_tgid >> 32 : 0;
    event->closer_tid = task ? (__u32)pid_tgid : 0;
    fill_leave_origin(&event->origin, &event->has_origin, entry);
    bpf_ringbuf_submit(event, submit_flags());
}

static __always_inline void emit_leave(void* ctx, const struct sock* s, __u64 sk, int new_state,
                                       const bool direct) {
    struct cw_origin_entry* entry = bpf_map_lookup_elem(&origins, &sk);
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
        emit_leave_quick(sk, new_state, task, reset, age ? age : 1, now, entry);
        return;
    }
    event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
    if (!event) {
        count(CW_CNT_RINGBUF_FULL);
        return;
    }
    fill_header(&event->hdr, CW_EV_LEAVE_CLOSE_WAIT, sizeof(*event), sk, now);
    fill_flow(s, &event->flow, direct);
    event->new_state = new_state;
    event->pad = 0;
    event->close_wait_ns = age;
    event->close_kind = close_kind(new_state, task, reset);
    event->has_closer = task;
    if (task)
        fill_closer(ctx, &event->closer, event->close_kind, late, now);
    else
        __builtin_memset(&event->closer, 0, sizeof(event->closer));
    fill_leave_origin(&event->origin, &event->has_origin, entry);
    event->pad2 = 0;
    bpf_ringbuf_submit(event, submit_flags());
}

/* A raw tracepoint: the program gets the tracepoint's arguments (sk, old and new state) as they
 * are, where a classic one first has the kernel build a record of every change (addresses,
 * ports, family) for each of the ~10 changes of a connection; the few it acts on read what they
 * need from the socket. */
static __always_inline int set_state(struct bpf_raw_tracepoint_args* ctx, const bool direct) {
    const struct sock* s = KCAST(direct, struct sock, ctx->args[0]);
    __u64 sk = (__u64)s;
    int old_state = (int)ctx->args[1];
    int new_state = (int)ctx->args[2];

    /* Inside connect(), in the connecting thread: the one moment the opener is current. */
    if (old_state == CW_TCP_CLOSE && new_state == CW_TCP_SYN_SENT) {
        struct cw_origin_entry entry = {};
        struct user_state state = {};

        if (!pid_selected(bpf_get_current_pid_tgid() >> 32) || !tcp_protocol(s, direct)) return 0;
        fill_origin(ctx, &entry.origin, CW_ORIGIN_CONNECT, s, bpf_ktime_get_ns(), &state, direct);
        emit_user_stack(sk, &entry.origin, &state);
        remember_origin(sk, &entry);
        return 0;
    }
    if (filter_pid_count && !following) return 0;
    if (new_state == CW_TCP_CLOSE_WAIT) {
        struct cw_origin_entry* entry;
        __u64 now;

        if (!tcp_protocol(s, direct)) return 0;
        entry = bpf_map_lookup_elem(&origins, &sk);
        /* With --pid, nothing for sockets the selected processes did not open. */
        if (!followed(entry)) return 0;
        now = bpf_ktime_get_ns();
        if (entry) {
            /* No record: userspace reads the entry when it reports, and the leave record says
             * the rest (the ring buffer's reserve and submit here were a tenth of a churning
             * connection's BPF time, and its handling ~40% of cwtrace's own CPU). */
            note_close_wait(s, entry, now, direct);
            return 0;
        }
        bpf_map_update_elem(&close_wait_since, &sk, &now, BPF_ANY);
        emit_enter(s, sk, NULL, now, direct);
        return 0;
    }
    if (old_state == CW_TCP_CLOSE_WAIT && tcp_protocol(s, direct))
        emit_leave(ctx, s, sk, new_state, direct);
    /* The kernel reuses struct sock memory: forget the opener so it never outlives its socket
     * (only TCP sockets have one: no protocol check needed). */
    if (new_state == CW_TCP_CLOSE) bpf_map_delete_elem(&origins, &sk);
    return 0;
}

SEC("raw_tp/inet_sock_set_state")
int on_inet_sock_set_state(struct bpf_raw_tracepoint_args* ctx) { return set_state(ctx, true); }

SEC("raw_tp/inet_sock_set_state")
int on_inet_sock_set_state_probed(struct bpf_raw_tracepoint_args* ctx) {
    return set_state(ctx, false);
}

/* The struct sock behind file descriptor `fd` of the current task, or NULL. The file table
 * is read through the task's typed pointers; the descriptor array holds untyped pointers. */
static __always_inline struct sock* sock_of_fd(long fd, const bool direct) {
    struct fdtable* fdt = bpf_get_current_task_btf()->files->fdt;
    struct file **fds, *file = NULL;
    struct socket* sock;

    if (!fdt || fd >= fdt->max_fds) return NULL;
    fds = fdt->fd;
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
    return sock ? KCAST(direct, struct sock, KREAD(direct, sock, sk)) : NULL;
}

/* A socket accept() returned already in CLOSE_WAIT: its entry notes it as set_state() notes a
 * socket with an opener, so that the map read finds it even if its CLOSE_WAIT record never came
 * (a program run the kernel skipped). Since when: as that record said, or (none, or --pid: the
 * FIN came unfollowed) from now, never more than the truth. Returns that time. */
static __always_inline __u64 note_accepted_in_close_wait(const struct sock* sk, __u64 key,
                                                         struct cw_origin_entry* entry,
                                                         const bool direct) {
    __u64* since = bpf_map_lookup_elem(&close_wait_since, &key);

    note_close_wait(sk, entry, since ? *since : entry->origin.opened_ns, direct);
    /* The leave reads the entry's time first: the other one would only wait for the LRU. */
    if (since) bpf_map_delete_elem(&close_wait_since, &key);
    return entry->close_wait_since;
}

/* An accepted socket's handshake completed in softirq; its owner is known only here. */
static __always_inline int on_accept_return(void* ctx, long fd, const bool direct) {
    struct cw_origin_entry entry = {};
    struct user_state state = {};
    struct cw_event_origin* event;
    bool in_close_wait;
    struct sock* sk;
    __u64 key, since = 0;

    if (fd < 0 || !pid_selected(bpf_get_current_pid_tgid() >> 32)) return 0;
    sk = sock_of_fd(fd, direct);
    if (!sk) {
        count(CW_CNT_ACCEPT_FD_UNRESOLVED);
        return 0;
    }
    if (!is_tcp(sk, direct)) return 0;
    key = (__u64)sk;
    fill_origin(ctx, &entry.origin, CW_ORIGIN_ACCEPT, sk, bpf_ktime_get_ns(), &state, direct);
    emit_user_stack(key, &entry.origin, &state);
    in_close_wait = KREAD(direct, sk, __sk_common.skc_state) == CW_TCP_CLOSE_WAIT;
    if (in_close_wait) since = note_accepted_in_close_wait(sk, key, &entry, direct);
    remember_origin(key, &entry);

    /* The peer closed before accept(): the CLOSE_WAIT record went out without an origin, which
     * this record adds (or, with --pid, did not go out: it is sent now, since this is the moment
     * the socket is followed). */
    if (!in_close_wait) return 0;
    if (filter_pid_count) {
        emit_enter(sk, key, &entry.origin, since, direct);
        return 0;
    }
    event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
    if (!event) {
        count(CW_CNT_RINGBUF_FULL);
        return 0;
    }
    fill_header(&event->hdr, CW_EV_ORIGIN, sizeof(*event), key, entry.origin.opened_ns);
    event->ino = entry.ino;
    event->origin = entry.origin;
    bpf_ringbuf_submit(event, submit_flags());
    return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int on_accept4_exit(struct trace_event_raw_sys_exit* ctx) {
    return on_accept_return(ctx, ctx->ret, true);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int on_accept_exit(struct trace_event_raw_sys_exit* ctx) {
    return on_accept_return(ctx, ctx->ret, true);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int on_accept4_exit_probed(struct trace_event_raw_sys_exit* ctx) {
    return on_accept_return(ctx, ctx->ret, false);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int on_accept_exit_probed(struct trace_event_raw_sys_exit* ctx) {
    return on_accept_return(ctx, ctx->ret, false);
}

/* A new program image: userspace looks whether it is a Python interpreter before it can
 * open a socket. Woken at once, as Python's own start-up is the whole head start it gets. */
SEC("tracepoint/sched/sched_process_exec")
int on_process_exec(void* ctx) {
    __u32 pid = bpf_get_current_pid_tgid() >> 32;
    struct cw_event_exec* event;

    bpf_map_delete_elem(&python_procs, &pid); /* whatever it ran before is gone */
    if (!pid_selected(pid)) return 0;
    event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
    if (!event) {
        count(CW_CNT_RINGBUF_FULL);
        return 0;
    }
    fill_header(&event->hdr, CW_EV_EXEC, sizeof(*event), 0, bpf_ktime_get_ns());
    event->task_start_ns = task_start_ns(bpf_get_current_task_btf());
    event->pid = pid;
    event->pad = 0;
    bpf_ringbuf_submit(event, BPF_RB_FORCE_WAKEUP);
    return 0;
}
