#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "kernel/decoder.h"

using namespace cwtrace;

namespace {

template <typename T>
std::vector<std::byte> bytes_of(const T& value) {
    std::vector<std::byte> out(sizeof value);
    std::memcpy(out.data(), &value, sizeof value);
    return out;
}

}  // namespace

TEST(Decoder, DecodesEnter) {
    cw_event_enter e = {};
    e.hdr = {CW_EV_ENTER_CLOSE_WAIT, sizeof e, 123, 0xffff0001};
    e.flow.sport = 5555;
    e.has_origin = 1;
    e.origin.pid = 7;
    auto raw = bytes_of(e);
    Decoded d = decode_event(raw);
    ASSERT_TRUE(std::holds_alternative<Event>(d));
    const auto& got = std::get<cw_event_enter>(std::get<Event>(d));
    EXPECT_EQ(got.hdr.sk, 0xffff0001u);
    EXPECT_EQ(got.flow.sport, 5555);
    EXPECT_EQ(got.origin.pid, 7u);
}

// A Go opener's creator shares the Python stack's word (one or the other runtime): both fields
// and its status come through.
TEST(Decoder, DecodesTheGoCreatorOfAnOrigin) {
    cw_event_origin o = {};
    o.hdr = {CW_EV_ORIGIN, sizeof o, 1, 0xffff0002};
    o.origin.kind = CW_ORIGIN_CONNECT;
    o.origin.go_status = CW_GO_CAPTURED;
    o.origin.go_creator_id = 0x1122334455667788ULL;
    Decoded d = decode_event(bytes_of(o));
    ASSERT_TRUE(std::holds_alternative<Event>(d));
    const cw_origin& got = std::get<cw_event_origin>(std::get<Event>(d)).origin;
    EXPECT_EQ(got.go_status, uint32_t{CW_GO_CAPTURED});
    EXPECT_EQ(got.go_creator_id, 0x1122334455667788ULL);
    EXPECT_EQ(got.py_status, uint32_t{CW_PY_NONE});
}

TEST(Decoder, DecodesLeaveAndOrigin) {
    cw_event_leave l = {};
    l.hdr = {CW_EV_LEAVE_CLOSE_WAIT, sizeof l, 1, 0xa};
    l.new_state = CW_TCP_LAST_ACK;
    auto d = decode_event(bytes_of(l));
    ASSERT_TRUE(std::holds_alternative<Event>(d));
    EXPECT_EQ(std::get<cw_event_leave>(std::get<Event>(d)).new_state, CW_TCP_LAST_ACK);

    cw_event_origin o = {};
    o.hdr = {CW_EV_ORIGIN, sizeof o, 1, 0xb};
    o.origin.kind = CW_ORIGIN_ACCEPT;
    d = decode_event(bytes_of(o));
    ASSERT_TRUE(std::holds_alternative<Event>(d));
    EXPECT_EQ(std::get<cw_event_origin>(std::get<Event>(d)).origin.kind,
              static_cast<uint32_t>(CW_ORIGIN_ACCEPT));
}

// The small record of a close younger than --min-age stands for a full leave event.
TEST(Decoder, QuickLeaveIsALeaveWithTheCloserOnly) {
    cw_event_leave_quick q = {};
    q.hdr = {CW_EV_LEAVE_QUICK, sizeof q, 5, 0xc};
    q.new_state = CW_TCP_LAST_ACK;
    q.close_kind = CW_CLOSE_CLOSE;
    q.close_wait_ns = 1234;
    q.has_closer = 1;
    q.closer_pid = 42;
    q.closer_tid = 43;
    auto d = decode_event(bytes_of(q));
    ASSERT_TRUE(std::holds_alternative<Event>(d));
    const auto& l = std::get<cw_event_leave>(std::get<Event>(d));
    EXPECT_EQ(l.hdr.type, static_cast<uint32_t>(CW_EV_LEAVE_CLOSE_WAIT));
    EXPECT_EQ(l.hdr.size, sizeof(cw_event_leave));
    EXPECT_EQ(l.hdr.ts_ns, 5u);
    EXPECT_EQ(l.hdr.sk, 0xcu);
    EXPECT_EQ(l.new_state, static_cast<uint32_t>(CW_TCP_LAST_ACK));
    EXPECT_EQ(l.close_kind, static_cast<uint32_t>(CW_CLOSE_CLOSE));
    EXPECT_EQ(l.close_wait_ns, 1234u);
    EXPECT_EQ(l.has_closer, 1u);
    EXPECT_EQ(l.closer.pid, 42u);
    EXPECT_EQ(l.closer.tid, 43u);
    EXPECT_EQ(l.closer.kind, static_cast<uint32_t>(CW_CLOSE_CLOSE));
    EXPECT_EQ(l.closer.user_stack_id, CW_STACK_NOT_WANTED);
    EXPECT_EQ(l.closer.kernel_stack_id, CW_STACK_NOT_WANTED);
    EXPECT_EQ(l.flow.family, 0);
    EXPECT_EQ(l.has_origin, 0u);

    q.has_origin = 1;  // the opener, as the kernel recorded it
    q.origin.pid = 7;
    q.origin.user_stack_id = 3;
    q.origin.kind = CW_ORIGIN_CONNECT;
    const auto with_origin = std::get<cw_event_leave>(std::get<Event>(decode_event(bytes_of(q))));
    EXPECT_EQ(with_origin.has_origin, 1u);
    EXPECT_EQ(std::memcmp(&with_origin.origin, &q.origin, sizeof q.origin), 0);
    EXPECT_TRUE(may_leave_unseen(with_origin));
    EXPECT_FALSE(may_leave_unseen(l));

    q.hdr.size = sizeof q + 8;  // declared larger than a quick leave
    auto raw = bytes_of(q);
    raw.resize(raw.size() + 8);
    EXPECT_EQ(std::get<DecodeError>(decode_event(raw)), DecodeError::BadSize);
}

TEST(Decoder, EnterOfAMapEntryIsTheRecordTheKernelWouldHaveSent) {
    cw_origin_entry entry = {};
    entry.origin.pid = 42;
    entry.origin.kind = CW_ORIGIN_ACCEPT;
    entry.origin.user_stack_id = 9;
    entry.close_wait_since = 123456789;
    entry.ino = 5150;
    entry.flow.family = 2;
    entry.flow.sport = 40000;
    entry.flow.dport = 80;
    const cw_event_enter e = enter_of(0xffff888012345600ULL, entry);
    EXPECT_EQ(e.hdr.type, static_cast<uint32_t>(CW_EV_ENTER_CLOSE_WAIT));
    EXPECT_EQ(e.hdr.size, sizeof e);
    EXPECT_EQ(e.hdr.ts_ns, 123456789u);
    EXPECT_EQ(e.hdr.sk, 0xffff888012345600ULL);
    EXPECT_EQ(e.ino, 5150u);
    EXPECT_EQ(std::memcmp(&e.flow, &entry.flow, sizeof e.flow), 0);
    EXPECT_EQ(e.has_origin, 1u);
    EXPECT_EQ(std::memcmp(&e.origin, &entry.origin, sizeof e.origin), 0);
    // Decoded as sent, it is the same event.
    const auto decoded = std::get<cw_event_enter>(std::get<Event>(decode_event(bytes_of(e))));
    EXPECT_EQ(std::memcmp(&decoded, &e, sizeof e), 0);
}

TEST(Decoder, RejectsShortRecords) {
    std::vector<std::byte> tiny(8);
    EXPECT_EQ(std::get<DecodeError>(decode_event(tiny)), DecodeError::TooShort);
    EXPECT_EQ(std::get<DecodeError>(decode_event({})), DecodeError::TooShort);
}

TEST(Decoder, RejectsTruncatedBody) {
    cw_event_enter e = {};
    e.hdr = {CW_EV_ENTER_CLOSE_WAIT, sizeof e, 1, 1};
    auto raw = bytes_of(e);
    raw.resize(sizeof(cw_event_header) + 4);
    EXPECT_EQ(std::get<DecodeError>(decode_event(raw)), DecodeError::BadSize);
}

TEST(Decoder, RejectsWrongDeclaredSize) {
    cw_event_leave l = {};
    l.hdr = {CW_EV_LEAVE_CLOSE_WAIT, sizeof l + 8, 1, 1};
    auto raw = bytes_of(l);
    raw.resize(raw.size() + 8);
    EXPECT_EQ(std::get<DecodeError>(decode_event(raw)), DecodeError::BadSize);
}

TEST(Decoder, RejectsUnknownType) {
    cw_event_header h = {99, sizeof h, 1, 1};
    EXPECT_EQ(std::get<DecodeError>(decode_event(bytes_of(h))), DecodeError::UnknownType);
}
