// Ring-buffer bytes -> typed events. Every record is bounds-checked; a malformed one is
// rejected (and counted by the caller), never read past its end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>

#include "cwtrace/abi.h"

namespace cwtrace {

enum class DecodeError { TooShort, BadSize, UnknownType };

// A dwarf-mode stack record: its fixed part, and the copied stack, which points into the record
// (valid while the record is).
struct UserStackRecord {
    cw_event_user_stack head;
    std::span<const std::byte> stack;
};

using Event = std::variant<cw_event_enter, cw_event_leave, cw_event_origin, cw_event_process,
                           cw_event_exec, UserStackRecord>;
using Decoded = std::variant<Event, DecodeError>;

Decoded decode_event(std::span<const std::byte> record);

const char* to_string(DecodeError error);

// A recorded thread's comm, which the kernel leaves unterminated when it fills the field.
std::string comm_of(const cw_origin& thread);

// The enter record of a socket the kernel noted in CLOSE_WAIT in its `origins` map instead of
// sending one (see cw_event_enter): as it would have been sent.
cw_event_enter enter_of(uint64_t sk, const cw_origin_entry& entry);

// Whether a leave record is of a socket that entered CLOSE_WAIT without a record (its opener was
// known): it may have left before its entry was read.
inline bool may_leave_unseen(const cw_event_leave& e) { return e.has_origin && e.close_wait_ns; }

}  // namespace cwtrace
