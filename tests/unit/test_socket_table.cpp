#include <gtest/gtest.h>

#include "cwtrace/socket_table.h"

using namespace cwtrace;

namespace {

cw_event_enter enter_event(uint64_t sk, uint64_t ts_ns, bool with_origin = false) {
    cw_event_enter e = {};
    e.hdr = {CW_EV_ENTER_CLOSE_WAIT, sizeof e, ts_ns, sk};
    e.family = 2;
    e.sport = 40000;
    e.dport = 80;
    e.ino = sk + 1000;
    if (with_origin) {
        e.has_origin = 1;
        e.origin.kind = CW_ORIGIN_CONNECT;
        e.origin.pid = 42;
    }
    return e;
}

constexpr uint64_t kSec = 1'000'000'000;

}  // namespace

TEST(SocketTable, EnterThenMinAge) {
    SocketTable t;
    t.enter(enter_event(0xa, 10 * kSec));
    t.enter(enter_event(0xb, 20 * kSec));
    EXPECT_EQ(t.size(), 2u);
    auto old = t.at_least(35 * kSec, 20 * kSec);
    ASSERT_EQ(old.size(), 1u);
    EXPECT_EQ(old[0]->sk, 0xau);
    EXPECT_EQ(t.at_least(35 * kSec, 15 * kSec).size(), 2u);
    EXPECT_EQ(t.at_least(35 * kSec, 26 * kSec).size(), 0u);
}

TEST(SocketTable, OldestFirst) {
    SocketTable t;
    t.enter(enter_event(0x1, 30 * kSec));
    t.enter(enter_event(0x2, 10 * kSec));
    t.enter(enter_event(0x3, 20 * kSec));
    auto all = t.at_least(40 * kSec, 0);
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0]->sk, 0x2u);
    EXPECT_EQ(all[1]->sk, 0x3u);
    EXPECT_EQ(all[2]->sk, 0x1u);
}

TEST(SocketTable, LeaveForgets) {
    SocketTable t;
    t.enter(enter_event(0xa, kSec));
    EXPECT_TRUE(t.leave(0xa));
    EXPECT_FALSE(t.leave(0xa));
    EXPECT_EQ(t.size(), 0u);
    EXPECT_TRUE(t.at_least(100 * kSec, 0).empty());
}

TEST(SocketTable, ReusedAddressReplacesStaleEntry) {
    SocketTable t;
    t.enter(enter_event(0xa, kSec, /*with_origin=*/true));
    // The leave was lost; the kernel reused the address for a new socket with no known opener.
    t.enter(enter_event(0xa, 50 * kSec));
    ASSERT_EQ(t.size(), 1u);
    const TrackedSocket* s = t.find(0xa);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->close_wait_since_ns, 50 * kSec);
    EXPECT_FALSE(s->origin.has_value()) << "a stale opener must not stick to a new socket";
}

TEST(SocketTable, OriginAttachedAfterLateAccept) {
    SocketTable t;
    cw_event_enter e = enter_event(0xa, kSec);
    e.ino = 0;  // not accepted yet: no struct socket
    t.enter(e);
    cw_event_origin o = {};
    o.hdr = {CW_EV_ORIGIN, sizeof o, 2 * kSec, 0xa};
    o.ino = 777;
    o.origin.kind = CW_ORIGIN_ACCEPT;
    o.origin.pid = 99;
    EXPECT_TRUE(t.attach_origin(o));
    const TrackedSocket* s = t.find(0xa);
    ASSERT_TRUE(s && s->origin);
    EXPECT_EQ(s->origin->kind, static_cast<uint32_t>(CW_ORIGIN_ACCEPT));
    EXPECT_EQ(s->origin->pid, 99u);
    EXPECT_EQ(s->ino, 777u);
    EXPECT_EQ(s->close_wait_since_ns, kSec) << "the age counts from CLOSE_WAIT, not accept";
    o.hdr.sk = 0xbad;
    EXPECT_FALSE(t.attach_origin(o));
}

TEST(SocketTable, CopiesAddressesAndFamily) {
    SocketTable t;
    cw_event_enter e = enter_event(0xa, kSec);
    e.family = 10;
    e.daddr[15] = 1;
    t.enter(e);
    const TrackedSocket* s = t.find(0xa);
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(s->inet6);
    EXPECT_EQ(s->daddr[15], 1);
    EXPECT_EQ(s->sport, 40000);
    EXPECT_EQ(s->dport, 80);
}
