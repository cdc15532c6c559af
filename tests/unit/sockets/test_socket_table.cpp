#include <gtest/gtest.h>

#include <algorithm>
#include <unordered_set>

#include "sockets/socket_table.h"

using namespace cwtrace;

namespace {

cw_event_enter enter_event(uint64_t sk, uint64_t ts_ns, bool with_origin = false) {
    cw_event_enter e = {};
    e.hdr = {CW_EV_ENTER_CLOSE_WAIT, sizeof e, ts_ns, sk};
    e.flow.family = 2;
    e.flow.sport = static_cast<uint16_t>(40000 + (sk & 0xfff));
    e.flow.dport = 80;
    e.ino = sk + 1000;
    if (with_origin) {
        e.has_origin = 1;
        e.origin.kind = CW_ORIGIN_CONNECT;
        e.origin.pid = 42;
    }
    return e;
}

cw_event_leave leave_event(const cw_event_enter& enter) {
    cw_event_leave l = {};
    l.hdr = {CW_EV_LEAVE_CLOSE_WAIT, sizeof l, enter.hdr.ts_ns + 1, enter.hdr.sk};
    l.flow = enter.flow;
    l.new_state = CW_TCP_LAST_ACK;
    return l;
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
    EXPECT_EQ(old[0]->key, 0xau);
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
    EXPECT_EQ(all[0]->key, 0x2u);
    EXPECT_EQ(all[1]->key, 0x3u);
    EXPECT_EQ(all[2]->key, 0x1u);
}

TEST(SocketTable, LeaveForgets) {
    SocketTable t;
    const cw_event_enter e = enter_event(0xa, kSec);
    t.enter(e);
    EXPECT_TRUE(t.leave(leave_event(e)));
    EXPECT_FALSE(t.leave(leave_event(e)));
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
    EXPECT_FALSE(s->origin) << "a stale opener must not stick to a new socket";
}

// Quick leaves are read after the ring buffer's records: a socket's leave may come after a
// later socket at the same address entered CLOSE_WAIT, which it must not take.
TEST(SocketTable, ALeaveDoesNotTakeALaterSocketAtTheSameAddress) {
    SocketTable t;
    const cw_event_enter earlier = enter_event(0xa, 10 * kSec);
    cw_event_leave leave = leave_event(earlier);  // at 10 s + 1 ns
    t.enter(enter_event(0xa, 20 * kSec));         // the address reused, read first
    EXPECT_FALSE(t.take(leave).has_value());
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t.find(0xa)->close_wait_since_ns, 20 * kSec);
    leave.hdr.ts_ns = 30 * kSec;  // its own leave
    ASSERT_TRUE(t.take(leave).has_value());
    EXPECT_EQ(t.size(), 0u);
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
    e.flow.family = 10;
    e.flow.daddr[15] = 1;
    t.enter(e);
    const TrackedSocket* s = t.find(0xa);
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(s->inet6());
    EXPECT_EQ(s->flow.daddr[15], 1);
    EXPECT_EQ(s->flow.sport, 40000 + 0xa);
    EXPECT_EQ(s->flow.dport, 80);
}

TEST(SocketTable, FoundAtStartThenLeavesByFlow) {
    SocketTable t;
    const cw_event_enter e = enter_event(0xa, kSec);
    EXPECT_TRUE(t.add_before_start(e.flow, 555, 3 * kSec));
    auto all = t.all();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_TRUE(all[0]->before_start);
    EXPECT_EQ(all[0]->close_wait_since_ns, 3 * kSec) << "the age is a lower bound from the start";
    EXPECT_EQ(all[0]->ino, 555u);
    // Its leave event carries a struct sock address the table never saw: matched by flow.
    EXPECT_TRUE(t.leave(leave_event(e)));
    EXPECT_EQ(t.size(), 0u);
}

TEST(SocketTable, SocketSeenLiveAndAtStartCountsOnce) {
    SocketTable t;
    const cw_event_enter e = enter_event(0xa, 2 * kSec, /*with_origin=*/true);
    // Entered CLOSE_WAIT after attach but before the dump: the event comes second...
    EXPECT_TRUE(t.add_before_start(e.flow, 555, 3 * kSec));
    t.enter(e);
    ASSERT_EQ(t.size(), 1u);
    EXPECT_FALSE(t.all()[0]->before_start) << "the live record, with its origin, wins";
    // ...or first.
    EXPECT_FALSE(t.add_before_start(e.flow, 555, 3 * kSec));
    EXPECT_EQ(t.size(), 1u);
}

TEST(SocketTable, SameFlowInTwoNetworkNamespacesAtStartIsTwoSockets) {
    SocketTable t;
    const cw_event_enter e = enter_event(0xa, kSec);
    EXPECT_TRUE(t.add_before_start(e.flow, 555, 3 * kSec));
    EXPECT_TRUE(t.add_before_start(e.flow, 777, 3 * kSec)) << "another inode: another socket";
    EXPECT_FALSE(t.add_before_start(e.flow, 0, 3 * kSec)) << "no inode: cannot tell, kept once";
    EXPECT_EQ(t.size(), 2u);
    EXPECT_TRUE(t.leave(leave_event(e)));
    EXPECT_EQ(t.size(), 1u);
}

TEST(SocketTable, LeaveOfAnUnknownLiveSocketDoesNotTouchAnotherWithTheSameFlow) {
    SocketTable t;
    const cw_event_enter e = enter_event(0xa, kSec);
    t.enter(e);
    cw_event_leave stray = leave_event(e);
    stray.hdr.sk = 0xb;  // same flow, another socket: only sockets found at start match by flow
    EXPECT_FALSE(t.leave(stray));
    EXPECT_EQ(t.size(), 1u);
}

// With --pid, sockets found through sock_diag get no leave event: each report drops the ones
// sock_diag no longer lists, and a live event for the same flow takes over.
TEST(SocketTable, UntracedSocketsAreDroppedWhenSockDiagNoLongerListsThem) {
    SocketTable t;
    auto a = enter_event(0xa, 0), b = enter_event(0xb, 0), traced = enter_event(0xc, 5 * kSec);
    EXPECT_TRUE(t.add_before_start(a.flow, 1, 1 * kSec));
    EXPECT_TRUE(t.add_untraced(b.flow, 2, 4 * kSec));
    EXPECT_FALSE(t.add_untraced(b.flow, 2, 9 * kSec)) << "known already";
    t.enter(traced);
    ASSERT_EQ(t.size(), 3u);
    const auto all = t.all();
    EXPECT_TRUE(all[0]->before_start && all[0]->untraced);
    EXPECT_TRUE(!all[1]->before_start && all[1]->untraced);
    EXPECT_EQ(all[1]->close_wait_since_ns, 4 * kSec);
    EXPECT_FALSE(all[2]->untraced);

    // Only `a` is still in CLOSE_WAIT; the traced socket is kept whatever sock_diag says.
    std::unordered_set<cw_flow, FlowHash, FlowEqual> listed = {a.flow};
    EXPECT_EQ(t.drop_untraced_missing(listed), 1u);
    ASSERT_EQ(t.size(), 2u);
    EXPECT_NE(t.find(0xc), nullptr);
    EXPECT_EQ(t.all()[0]->flow.sport, a.flow.sport);

    // A live enter for an untraced flow replaces it, once.
    auto again = enter_event(0xa, 6 * kSec, true);
    t.enter(again);
    EXPECT_EQ(t.size(), 2u);
    EXPECT_FALSE(t.find(0xa)->untraced);
}

// Issue 25: after a SIGSTOP under churn a socket whose leave record was lost stayed in every
// report (diagnosis unknown, no owner) and in the gauge for ever. A socket listed neither in the
// kernel's map nor in the dump by two sweeps running leaves; one listed by either stays.
TEST(SocketTable, ASocketMissingFromMapAndDumpTwiceRunningLeaves) {
    SocketTable t;
    const auto phantom = enter_event(0xa, 1 * kSec, true);  // closed, its leave record lost
    const auto dumped = enter_event(0xb, 2 * kSec, true);
    const auto mapped = enter_event(0xc, 3 * kSec, true);
    for (const auto& e : {phantom, dumped, mapped}) t.enter(e);
    t.add_before_start(enter_event(0xd, 0).flow, 77, 0);  // found at start, closed since
    t.begin_map_read();                                   // the kernel's map lists 0xc only
    ASSERT_NE(t.note_in_map(0xc), nullptr);
    EXPECT_EQ(t.note_in_map(0xe), nullptr) << "not tracked";
    const std::unordered_set<cw_flow, FlowHash, FlowEqual> in_dump = {dumped.flow};

    EXPECT_EQ(t.drop_missing(in_dump), 0u);  // missed once: it may be newer than the dump
    EXPECT_EQ(t.size(), 4u);
    EXPECT_EQ(t.drop_missing(in_dump), 2u);
    EXPECT_EQ(t.size(), 2u);
    EXPECT_EQ(t.find(0xa), nullptr);
    EXPECT_NE(t.find(0xb), nullptr);
    EXPECT_NE(t.find(0xc), nullptr);
    // The flow is free again: a socket reusing it is tracked.
    t.enter(enter_event(0xa, 9 * kSec));
    EXPECT_NE(t.find(0xa), nullptr);
}

// A read of the kernel's map lists only what it read: a socket its last read listed stays, one
// only an earlier read listed is missed like any other.
TEST(SocketTable, OnlyTheLastReadOfTheMapCounts) {
    SocketTable t;
    const auto a = enter_event(0xa, 1 * kSec, true), b = enter_event(0xb, 2 * kSec, true);
    t.enter(a);
    t.enter(b);
    EXPECT_FALSE(t.in_last_map_read(*t.find(0xa))) << "no read yet";
    t.begin_map_read();
    t.note_in_map(0xa);
    t.note_in_map(0xb);
    t.begin_map_read();
    t.note_in_map(0xb);
    EXPECT_FALSE(t.in_last_map_read(*t.find(0xa)));
    EXPECT_TRUE(t.in_last_map_read(*t.find(0xb)));
    const std::unordered_set<cw_flow, FlowHash, FlowEqual> empty;
    EXPECT_EQ(t.drop_missing(empty), 0u);
    EXPECT_EQ(t.drop_missing(empty), 1u);
    EXPECT_EQ(t.find(0xa), nullptr);
    EXPECT_NE(t.find(0xb), nullptr);
}

// After a lost event every dumped flow is asked for at once: those the table knows (traced,
// found at start, or twice in two namespaces) are not returned, the others are, in order.
TEST(SocketTable, UnknownFlowsOfADumpAreThoseNoTrackedSocketHas) {
    SocketTable t;
    const auto traced = enter_event(0xa, 1 * kSec), started = enter_event(0xb, 0);
    t.enter(traced);
    EXPECT_TRUE(t.add_before_start(started.flow, 7, 0));
    EXPECT_TRUE(t.add_before_start(started.flow, 8, 0)) << "same flow, another namespace";
    const auto new1 = enter_event(0xc, 0), new2 = enter_event(0xd, 0);
    const std::vector<cw_flow> dumped = {new2.flow, traced.flow, started.flow, new1.flow,
                                         new2.flow};
    EXPECT_EQ(unknown_flows(SortedFlows(dumped), t.tracked_flows()),
              (std::vector<size_t>{0, 3, 4}));
    EXPECT_TRUE(unknown_flows(SortedFlows({}), t.tracked_flows()).empty());
    EXPECT_EQ(unknown_flows(SortedFlows({traced.flow}), SocketTable().tracked_flows()),
              std::vector<size_t>{0});
}

// Every byte of a flow counts: flows one field apart hash apart, equal flows alike.
TEST(FlowHash, EachFieldOfTheFlowCounts) {
    cw_flow base = {};
    base.family = 2;
    base.saddr[0] = 127, base.saddr[3] = 1;
    base.daddr[0] = 127, base.daddr[3] = 1;
    base.sport = 40000, base.dport = 8080;
    std::vector<cw_flow> flows = {base};
    for (size_t byte = 0; byte < sizeof base; ++byte) {
        for (uint8_t bit : {uint8_t{1}, uint8_t{0x80}}) {
            cw_flow other = base;
            reinterpret_cast<uint8_t*>(&other)[byte] ^= bit;
            flows.push_back(other);
        }
    }
    std::unordered_set<size_t> hashes;
    for (const cw_flow& f : flows) hashes.insert(FlowHash()(f));
    EXPECT_EQ(hashes.size(), flows.size());
    cw_flow same = base;
    EXPECT_EQ(FlowHash()(same), FlowHash()(base));
}

TEST(SocketTable, SortedFlowsListWhatTheyWereGiven) {
    const auto a = enter_event(0xa, 0), b = enter_event(0xb, 0), c = enter_event(0xc, 0);
    const SortedFlows flows({b.flow, a.flow, b.flow});
    EXPECT_EQ(flows.count(a.flow), 1u);
    EXPECT_EQ(flows.count(b.flow), 1u);
    EXPECT_EQ(flows.count(c.flow), 0u);
    EXPECT_EQ(SortedFlows({}).count(a.flow), 0u);
    ASSERT_EQ(flows.by_hash().size(), 3u);
    EXPECT_TRUE(std::is_sorted(flows.by_hash().begin(), flows.by_hash().end()));
}

TEST(SocketTable, ASocketSeenBetweenTwoMissesStays) {
    SocketTable t;
    const auto late = enter_event(0xa, 1 * kSec);
    t.enter(late);
    const std::unordered_set<cw_flow, FlowHash, FlowEqual> empty, listed = {late.flow};
    EXPECT_EQ(t.drop_missing(empty), 0u);   // entered after the dump
    EXPECT_EQ(t.drop_missing(listed), 0u);  // listed by the next one
    EXPECT_EQ(t.drop_missing(empty), 0u);   // a first miss again, not a second
    EXPECT_EQ(t.size(), 1u);
    EXPECT_EQ(t.drop_missing(empty), 1u);
    EXPECT_EQ(t.size(), 0u);
}
