// Ring-buffer bytes -> typed events. Every record is bounds-checked; a malformed one is
// rejected (and counted by the caller), never read past its end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
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

}  // namespace cwtrace
