// libFuzzer target: ring-buffer records -> decoder -> socket table, as app.cpp feeds them.
// The input is a stream of records, each a 2-byte little-endian length and that many bytes (the
// last one may be cut short), so one input exercises a sequence of events on one table.
// Every record must come out either as an event or as a counted error, never as UB.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <variant>

#include "fuzz_check.h"
#include "kernel/decoder.h"
#include "sockets/socket_table.h"

namespace {

using namespace cwtrace;

// The bytes of the record a decoded event must have come from: the decoder may not accept a
// record shorter than its type, and a stack record's stack must lie inside the record, after
// its fixed part.
template <typename T>
size_t size_of(const T& event, std::span<const std::byte>) {
    return sizeof event;
}
// A quick leave record stands for a whole leave event: the record holds the quick one.
size_t size_of(const cw_event_leave& event, std::span<const std::byte> record) {
    cw_event_header hdr;
    std::memcpy(&hdr, record.data(), sizeof hdr);  // decoded, so it holds a header
    return hdr.type == CW_EV_LEAVE_QUICK ? sizeof(cw_event_leave_quick) : sizeof event;
}
size_t size_of(const UserStackRecord& event, std::span<const std::byte> record) {
    check(event.stack.data() == record.data() + sizeof event.head);
    return sizeof event.head + event.stack.size();
}
size_t size_of(const Event& event, std::span<const std::byte> record) {
    return std::visit([&](const auto& e) { return size_of(e, record); }, event);
}

void apply(SocketTable& table, const Event& event) {
    if (const auto* e = std::get_if<cw_event_enter>(&event)) {
        table.enter(*e);
        check(table.find(e->hdr.sk) != nullptr);
    } else if (const auto* l = std::get_if<cw_event_leave>(&event)) {
        // A socket tracked at that address that entered CLOSE_WAIT after the leave is another
        // one (the kernel reused the address; SocketTable::take): it stays.
        const TrackedSocket* s = table.find(l->hdr.sk);
        const bool later = s && s->close_wait_since_ns > l->hdr.ts_ns;
        check(table.leave(*l) || !s || later);
        check((table.find(l->hdr.sk) != nullptr) == later);
    } else if (const auto* o = std::get_if<cw_event_origin>(&event)) {
        check(table.attach_origin(*o) == (table.find(o->hdr.sk) != nullptr));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    SocketTable table;
    size_t records = 0, decoded = 0, errors = 0;
    std::span<const std::byte> input(reinterpret_cast<const std::byte*>(data), size);
    while (input.size() >= 2) {
        const size_t length = std::to_integer<size_t>(input[0]) | std::to_integer<size_t>(input[1])
                                                                      << 8;
        input = input.subspan(2);
        const auto record = input.first(std::min(length, input.size()));
        input = input.subspan(record.size());
        ++records;
        Decoded d = decode_event(record);
        if (const auto* error = std::get_if<DecodeError>(&d)) {
            check(to_string(*error)[0] != '?');
            ++errors;
            continue;
        }
        const Event& event = std::get<Event>(d);
        check(size_of(event, record) <= record.size());
        ++decoded;
        apply(table, event);
    }
    check(decoded + errors == records);

    // The table stays consistent: every socket it lists is found by its key, oldest first.
    const auto all = table.all();
    check(all.size() == table.size());
    for (size_t i = 0; i < all.size(); ++i) {
        check(table.find(all[i]->key) == all[i]);
        if (i) check(all[i - 1]->close_wait_since_ns <= all[i]->close_wait_since_ns);
    }
    check(table.at_least(0, 1).empty());
    return 0;
}
