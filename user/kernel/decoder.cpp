#include "kernel/decoder.h"

#include <cstring>

namespace cwtrace {

// The ABI is shared with C; these catch a layout change on either side.
static_assert(sizeof(cw_origin) == 80);
static_assert(sizeof(cw_event_header) == 24);
static_assert(sizeof(cw_flow) == 40);
static_assert(sizeof(cw_event_enter) == 24 + 8 + 40 + 8 + 80);
static_assert(sizeof(cw_event_leave) == 24 + 40 + 8 + 16 + 80 + 8 + 80);
static_assert(sizeof(cw_event_leave_quick) == 24 + 32 + 80);
static_assert(sizeof(cw_origin_entry) == 80 + 16 + 40);
static_assert(sizeof(cw_event_origin) == 24 + 8 + 80);
static_assert(sizeof(cw_event_process) == 24 + 16);
static_assert(sizeof(cw_event_exec) == 24 + 16);
static_assert(sizeof(cw_python_proc) == 56);
static_assert(sizeof(cw_py_stack) == 8 + 16 * CW_PY_MAX_FRAMES);
static_assert(sizeof(cw_go_proc) == 48);
static_assert(sizeof(cw_go_creator) == 16 + CW_GO_MAX_ANCESTORS * (16 + 8 * CW_GO_MAX_PCS));
static_assert(sizeof(cw_event_user_stack) == 24 + 48 + 16);
static_assert(sizeof(cw_unwind_memo) == 24 + 10 * CW_UNWIND_MEMO_WORDS);

namespace {

template <typename T>
Decoded copy_record(std::span<const std::byte> record, uint32_t declared_size) {
    if (declared_size != sizeof(T) || record.size() < sizeof(T)) return DecodeError::BadSize;
    T event;
    std::memcpy(&event, record.data(), sizeof(T));
    return Event{event};
}

// The full leave event a quick one stands for: no flow (the socket is known by its address),
// a closer (when there is one) of pid, tid and kind, its stacks not wanted; the opener as sent.
Decoded expand_quick_leave(std::span<const std::byte> record, uint32_t declared_size) {
    cw_event_leave_quick quick;
    if (declared_size != sizeof quick || record.size() < sizeof quick) return DecodeError::BadSize;
    std::memcpy(&quick, record.data(), sizeof quick);
    cw_event_leave leave = {};
    leave.hdr = quick.hdr;
    leave.hdr.type = CW_EV_LEAVE_CLOSE_WAIT;
    leave.hdr.size = sizeof leave;
    leave.new_state = quick.new_state;
    leave.close_wait_ns = quick.close_wait_ns;
    leave.close_kind = quick.close_kind;
    leave.has_closer = quick.has_closer;
    if (quick.has_closer) {  // as the kernel fills a closer it wants no stacks of
        leave.closer.pid = quick.closer_pid;
        leave.closer.tid = quick.closer_tid;
        leave.closer.kind = quick.close_kind;
        leave.closer.user_stack_id = CW_STACK_NOT_WANTED;
        leave.closer.kernel_stack_id = CW_STACK_NOT_WANTED;
    }
    leave.has_origin = quick.has_origin;
    if (quick.has_origin) leave.origin = quick.origin;
    return Event{leave};
}

// Variable size: the copied stack must fit in what the record declares and holds.
Decoded decode_user_stack(std::span<const std::byte> record, uint32_t declared_size) {
    UserStackRecord out;
    if (declared_size < sizeof out.head || record.size() < declared_size)
        return DecodeError::BadSize;
    std::memcpy(&out.head, record.data(), sizeof out.head);
    if (out.head.stack_bytes > declared_size - sizeof out.head) return DecodeError::BadSize;
    out.stack = record.subspan(sizeof out.head, out.head.stack_bytes);
    return Event{out};
}

}  // namespace

Decoded decode_event(std::span<const std::byte> record) {
    cw_event_header hdr;
    if (record.size() < sizeof hdr) return DecodeError::TooShort;
    std::memcpy(&hdr, record.data(), sizeof hdr);
    switch (hdr.type) {
        case CW_EV_ENTER_CLOSE_WAIT:
            return copy_record<cw_event_enter>(record, hdr.size);
        case CW_EV_LEAVE_CLOSE_WAIT:
            return copy_record<cw_event_leave>(record, hdr.size);
        case CW_EV_LEAVE_QUICK:
            return expand_quick_leave(record, hdr.size);
        case CW_EV_ORIGIN:
            return copy_record<cw_event_origin>(record, hdr.size);
        case CW_EV_PROCESS:
            return copy_record<cw_event_process>(record, hdr.size);
        case CW_EV_EXEC:
            return copy_record<cw_event_exec>(record, hdr.size);
        case CW_EV_USER_STACK:
            return decode_user_stack(record, hdr.size);
        default:
            return DecodeError::UnknownType;
    }
}

const char* to_string(DecodeError error) {
    switch (error) {
        case DecodeError::TooShort:
            return "record shorter than its header";
        case DecodeError::BadSize:
            return "record size does not match its type";
        case DecodeError::UnknownType:
            return "unknown record type";
    }
    return "?";
}

cw_event_enter enter_of(uint64_t sk, const cw_origin_entry& entry) {
    cw_event_enter e = {};
    e.hdr.type = CW_EV_ENTER_CLOSE_WAIT;
    e.hdr.size = sizeof e;
    e.hdr.ts_ns = entry.close_wait_since;
    e.hdr.sk = sk;
    e.ino = entry.ino;
    e.flow = entry.flow;
    e.has_origin = 1;
    e.origin = entry.origin;
    return e;
}

std::string comm_of(const cw_origin& thread) {
    return std::string(thread.comm, strnlen(thread.comm, sizeof thread.comm));
}

}  // namespace cwtrace
