#include "kernel/counters.h"

namespace cwtrace {

Stats stats_of(const KernelCounters& k, uint64_t records, uint64_t decode_errors) {
    Stats s;
    s.events = records;
    s.ringbuf_full = k.counter[CW_CNT_RINGBUF_FULL];
    s.origin_map_full = k.counter[CW_CNT_ORIGIN_MAP_FULL];
    s.stacks_lost = k.counter[CW_CNT_USER_STACK_LOST] + k.counter[CW_CNT_KERNEL_STACK_LOST] +
                    k.counter[CW_CNT_USER_STACK_COPY_LOST];
    s.stack_copies_lost = k.counter[CW_CNT_USER_STACK_COPY_LOST];
    s.accept_unresolved = k.counter[CW_CNT_ACCEPT_FD_UNRESOLVED];
    s.python_stacks_lost = k.counter[CW_CNT_PY_STACK_LOST];
    // Not a loss: a thread without Python frames opened the socket.
    s.python_native_threads = k.counter[CW_CNT_PY_NO_THREAD];
    s.recursion_misses = k.recursion_misses;
    s.decode_errors = decode_errors;
    s.lost_events = s.ringbuf_full + s.origin_map_full + s.stacks_lost + s.accept_unresolved +
                    s.recursion_misses + s.decode_errors + s.python_stacks_lost;
    return s;
}

}  // namespace cwtrace
