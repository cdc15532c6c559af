// Late closes and time in CLOSE_WAIT: the aggregation behind them (bounded, folded by
// code path) and their text sections.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <string>

#include "render/render.h"
#include "report_fixtures.h"
#include "sockets/late_closes.h"

namespace cwtrace {
namespace {

constexpr uint64_t kSecond = 1'000'000'000;
constexpr uint64_t kStart = 1000 * kSecond;

cw_origin thread(uint32_t pid, const char* comm, int32_t user_stack, uint32_t kind) {
    cw_origin o = {};
    o.pid = pid;
    o.tid = pid + 1;
    o.kind = kind;
    o.user_stack_id = user_stack;
    o.kernel_stack_id = 1;
    o.task_start_ns = pid * 10;
    std::strncpy(o.comm, comm, sizeof o.comm - 1);
    return o;
}

// Stacks resolve to one frame named after their id: equal ids in different processes are the
// same code path.
Origin fake_resolve(const cw_origin& o) {
    Origin r;
    r.kind = o.kind == CW_ORIGIN_ACCEPT ? OriginKind::Accept : OriginKind::Connect;
    r.pid = o.pid;
    r.tid = o.tid;
    r.comm = std::string(o.comm, strnlen(o.comm, sizeof o.comm));
    if (o.user_stack_id >= 0) r.user_stack = {{"path" + std::to_string(o.user_stack_id), "/bin/x"}};
    if (o.kernel_stack_id >= 0) r.kernel_stack = {{"tcp_close", ""}};
    return r;
}

TrackedSocket opened_by(uint32_t pid, int32_t stack, uint16_t port) {
    TrackedSocket s;
    s.key = 0xffff0000 + port;
    s.flow.family = 2;
    s.flow.saddr[0] = 127;
    s.flow.daddr[0] = 127;
    s.flow.sport = port;
    s.flow.dport = 8080;
    s.close_wait_since_ns = kStart;
    s.origin = std::make_shared<const cw_origin>(thread(pid, "client", stack, CW_ORIGIN_CONNECT));
    return s;
}

cw_event_leave closed_after(const TrackedSocket& s, uint64_t ns, std::optional<cw_origin> closer,
                            uint32_t kind = CW_CLOSE_CLOSE) {
    cw_event_leave e = {};
    e.hdr = {CW_EV_LEAVE_CLOSE_WAIT, sizeof e, s.close_wait_since_ns + ns, s.key};
    e.flow = s.flow;
    e.new_state = kind == CW_CLOSE_CLOSE ? CW_TCP_LAST_ACK : CW_TCP_CLOSE;
    e.close_kind = kind;
    e.close_wait_ns = ns;
    if (closer) {
        e.has_closer = 1;
        e.closer = *closer;
        e.closer.kind = kind;
    }
    return e;
}

uint64_t total(const std::vector<CloseWaitDurations>& d) {
    uint64_t n = 0;
    for (const auto& p : d)
        for (const auto& b : p.buckets) n += b.count;
    return n;
}

uint64_t total(const std::vector<LateCloseGroup>& g) {
    uint64_t n = 0;
    for (const auto& x : g) n += x.count;
    return n;
}

TEST(CloseLog, HealthyClosesInMicrosecondBucketsLateOnesListedWithTheirCloser) {
    CloseLog log(2 * kSecond, {}, fake_resolve);
    const auto s1 = opened_by(100, 7, 1), s2 = opened_by(100, 7, 2), s3 = opened_by(100, 7, 3);
    log.add(s1, closed_after(s1, 50'000, thread(100, "client", 9, 0)));   // 50 us
    log.add(s2, closed_after(s2, 200'000, thread(100, "client", 9, 0)));  // 200 us
    log.add(s3, closed_after(s3, 3 * kSecond, thread(100, "reaper", 9, 0)));

    const auto durations = log.durations();
    ASSERT_EQ(durations.size(), 1u);
    EXPECT_EQ(durations[0].count, 3u);
    EXPECT_EQ(durations[0].opening.user_stack.at(0).function, "path7");
    ASSERT_FALSE(durations[0].buckets.empty());
    EXPECT_DOUBLE_EQ(durations[0].buckets.front().lower_seconds, 32e-6);
    EXPECT_EQ(durations[0].buckets.front().count, 1u);
    EXPECT_DOUBLE_EQ(durations[0].buckets.back().lower_seconds, 2.097152);  // 2^21 us
    EXPECT_EQ(durations[0].buckets.back().count, 1u);
    EXPECT_EQ(total(durations), 3u);

    const auto late = log.late_closes();
    ASSERT_EQ(late.size(), 1u);
    EXPECT_EQ(late[0].count, 1u);
    EXPECT_EQ(late[0].closing.kind, CloseKind::Close);
    EXPECT_EQ(late[0].closing.pid, 100u);
    EXPECT_EQ(late[0].closing.comm, "reaper");
    EXPECT_EQ(late[0].closing.user_stack.at(0).function, "path9");
    ASSERT_EQ(late[0].sockets.size(), 1u);
    EXPECT_DOUBLE_EQ(late[0].sockets[0].close_wait_seconds, 3.0);
    EXPECT_EQ(late[0].sockets[0].local.port, 3);
    EXPECT_EQ(late[0].sockets[0].remote.addr(), "127.0.0.0");
    EXPECT_EQ(late[0].sockets[0].closer_tid, 101u);
}

// Dwarf mode: one frame-pointer stack (it stops in libc) hides two callers that the unwound
// stacks tell apart; the openings are resolved with their unwound stacks.
TEST(CloseLog, UnwoundOpenersAreTheirOwnPaths) {
    CloseLog log(kSecond, {}, fake_resolve);
    log.set_unwound_openers(
        [](const cw_origin&, uint64_t sk) -> int64_t { return (sk & 1) ? 1 : 2; },
        [](const cw_origin& o, uint32_t id) {
            Origin r = fake_resolve(o);
            r.user_stack = {{"unwound" + std::to_string(id), "/bin/x"}};
            return r;
        });
    for (uint16_t port = 1; port <= 3; ++port) {
        const auto s = opened_by(100, 7, port);  // keys 0xffff0001.. : odd, even, odd
        log.add(s, closed_after(s, 2 * kSecond, thread(100, "client", 9, 0)));
    }
    const auto durations = log.durations();
    ASSERT_EQ(durations.size(), 2u);
    EXPECT_EQ(durations[0].count, 2u);
    EXPECT_EQ(durations[0].opening.user_stack.at(0).function, "unwound1");
    EXPECT_EQ(durations[1].opening.user_stack.at(0).function, "unwound2");
    const auto late = log.late_closes();
    ASSERT_EQ(late.size(), 2u);
    EXPECT_EQ(late[0].count, 2u);
    EXPECT_EQ(late[0].opening.user_stack.at(0).function, "unwound1");
}

TEST(CloseLog, MinAgeIsInclusive) {
    CloseLog log(2 * kSecond, {}, fake_resolve);
    const auto a = opened_by(1, 7, 1), b = opened_by(1, 7, 2);
    log.add(a, closed_after(a, 2 * kSecond - 1, thread(1, "c", 9, 0)));
    log.add(b, closed_after(b, 2 * kSecond, thread(1, "c", 9, 0)));
    const auto late = log.late_closes();
    ASSERT_EQ(late.size(), 1u);
    EXPECT_EQ(late[0].sockets.at(0).local.port, 2);
}

TEST(CloseLog, OnePathInManyProcessesIsOneGroupWithTheMostRecentSockets) {
    CloseLog log(0, {}, fake_resolve);
    for (uint16_t i = 0; i < 100; ++i) {
        const auto s = opened_by(200 + i, 7, i);
        log.add(s, closed_after(s, kSecond, thread(200 + i, "worker", 9, 0)));
    }
    const auto late = log.late_closes();
    ASSERT_EQ(late.size(), 1u);
    EXPECT_EQ(late[0].count, 100u);
    EXPECT_DOUBLE_EQ(late[0].total_seconds, 100.0);
    ASSERT_EQ(late[0].sockets.size(), 5u);
    EXPECT_EQ(late[0].sockets[0].local.port, 99);  // most recent first
    EXPECT_EQ(late[0].sockets[4].local.port, 95);
    EXPECT_EQ(log.durations().size(), 1u);
}

TEST(CloseLog, DifferentClosingPathsAreDifferentGroupsLargestFirst) {
    CloseLog log(0, {}, fake_resolve);
    for (uint16_t i = 0; i < 3; ++i) {
        const auto s = opened_by(5, 7, i);
        log.add(s, closed_after(s, kSecond, thread(5, "c", i == 0 ? 11 : 12, 0)));
    }
    const auto late = log.late_closes();
    ASSERT_EQ(late.size(), 2u);
    EXPECT_EQ(late[0].count, 2u);
    EXPECT_EQ(late[0].closing.user_stack.at(0).function, "path12");
    EXPECT_EQ(late[1].count, 1u);
}

TEST(CloseLog, BoundedWhateverTheNumberOfPathsNothingUncounted) {
    CloseLogLimits limits;
    limits.pending = 8;
    limits.paths = 3;
    limits.groups = 2;
    limits.samples_per_group = 2;
    CloseLog log(kSecond, {}, fake_resolve, limits);
    uint64_t late_added = 0;
    for (uint32_t i = 0; i < 1000; ++i) {
        const auto s = opened_by(1000 + i, static_cast<int32_t>(i % 50), static_cast<uint16_t>(i));
        const uint64_t ns = i % 3 == 0 ? 2 * kSecond : 1000;
        late_added += ns >= kSecond;
        log.add(s, closed_after(s, ns, thread(1000 + i, "c", static_cast<int32_t>(i % 40), 0)));
        ASSERT_LE(log.pending(), 2 * limits.pending);
    }
    const auto durations = log.durations();
    ASSERT_EQ(durations.size(), 4u);  // 3 paths and the rest
    EXPECT_TRUE(durations.back().other);
    EXPECT_EQ(total(durations), 1000u);
    const auto late = log.late_closes();
    ASSERT_EQ(late.size(), 3u);  // 2 groups and the rest
    EXPECT_TRUE(late.back().other);
    EXPECT_EQ(total(late), late_added);
    for (const auto& g : late) EXPECT_LE(g.sockets.size(), 2u);
}

TEST(CloseLog, PidFilterKeepsClosesOpenedOrClosedByThosePids) {
    CloseLog log(0, {42}, fake_resolve);
    const auto mine = opened_by(42, 7, 1), closed_by_me = opened_by(7, 7, 2),
               others = opened_by(7, 7, 3);
    log.add(mine, closed_after(mine, kSecond, thread(42, "a", 9, 0)));
    log.add(closed_by_me, closed_after(closed_by_me, kSecond, thread(42, "a", 9, 0)));
    log.add(others, closed_after(others, kSecond, thread(8, "b", 9, 0)));
    EXPECT_EQ(total(log.late_closes()), 2u);
    EXPECT_EQ(total(log.durations()), 2u);
}

TEST(CloseLog, OutsideAnyProcessTheOwnerIsTheOpener) {
    CloseLog log(0, {}, fake_resolve);
    auto s = opened_by(77, 7, 1);
    s.before_start = true;
    log.add(s, closed_after(s, kSecond, std::nullopt, CW_CLOSE_RESET));
    const auto late = log.late_closes();
    ASSERT_EQ(late.size(), 1u);
    EXPECT_EQ(late[0].closing.kind, CloseKind::Reset);
    EXPECT_FALSE(late[0].closing.pid);
    EXPECT_TRUE(late[0].closing.user_stack.empty());
    EXPECT_EQ(late[0].sockets.at(0).pid, 77u);
    EXPECT_FALSE(late[0].sockets.at(0).closer_pid);
    EXPECT_TRUE(late[0].sockets.at(0).before_start);
}

TEST(CloseLog, SocketsWithoutOpenerShareTheUnknownPath) {
    CloseLog log(0, {}, fake_resolve);
    auto a = opened_by(1, 7, 1), b = opened_by(2, 8, 2);
    a.origin.reset();
    b.origin.reset();
    log.add(a, closed_after(a, 10, thread(1, "c", 9, 0)));
    log.add(b, closed_after(b, 20, thread(1, "c", 9, 0)));
    const auto durations = log.durations();
    ASSERT_EQ(durations.size(), 1u);
    EXPECT_EQ(durations[0].opening.kind, OriginKind::Unknown);
    EXPECT_EQ(durations[0].count, 2u);
}

// ---- Text sections ----

TEST(RenderLateCloses, SectionsOnlyWhenThereIsSomethingToShow) {
    const std::string text = render_text(fixtures::connect_ipv4_report());
    EXPECT_EQ(text.find("Late closes"), std::string::npos);
    EXPECT_EQ(text.find("distribution"), std::string::npos);
}

TEST(RenderLateCloses, NamesTheCloserItsStackAndTheWait) {
    const std::string text = render_text(fixtures::late_closes_report());
    for (const char* needle :
         {"Late closes: 9 sockets in CLOSE_WAIT at least 5s", "closed by close()/shutdown()",
          "closed in reaper[3100] thread 3107", "reap_idle_connections", "tcp_close [kernel]",
          "closed by its process exiting", "reset by the peer", "closed outside any process",
          "in CLOSE_WAIT 1m32s on average, at most 1m35s",
          "7 sockets, mean 349us; first opened by crawler[3100]", "... and 2 more", ">6.5s"})
        EXPECT_NE(text.find(needle), std::string::npos) << needle << " in:\n" << text;
}

TEST(RenderLateCloses, HistogramRowsLikeBcc) {
    const std::string text = render_text(fixtures::late_closes_report());
    // Seven healthy closes from 16 us to 2 ms; the fullest bucket gets the full bar.
    EXPECT_NE(text.find("      16us -> 32us       : 1        |"), std::string::npos) << text;
    EXPECT_NE(text.find("      32us -> 64us       : 2        |" + std::string(32, '*') + "|"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("     1.12m -> 2.24m      : 7        |" + std::string(32, '*') + "|"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("     4.19s -> 8.39s      : 1        |****    "), std::string::npos)
        << text;
}

}  // namespace
}  // namespace cwtrace
