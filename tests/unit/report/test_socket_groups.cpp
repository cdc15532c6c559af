// Sockets in the groups a reader sees, and which end of its connection a socket of unknown origin
// is: sock_diag's word when it has one, else judged from its ports against the host's ephemeral
// port range (the report's local_port_range).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "report/socket_groups.h"
#include "report_fixtures.h"

namespace cwtrace {
namespace {

using fixtures::sock4;

constexpr std::pair<uint16_t, uint16_t> kLinuxDefault = {32768, 60999};

SocketEntry held(uint16_t local_port, uint16_t remote_port, std::string remote = "10.0.0.77") {
    SocketEntry s =
        sock4("10.0.0.5", local_port, std::move(remote), remote_port, 10, 42, "app", Origin{});
    s.before_start = true;
    return s;
}

TEST(SocketGroups, ReportsJudgeByLinuxDefaultRangeUntilTold) {
    EXPECT_EQ(Report{}.local_port_range, kLinuxDefault);
}

TEST(SocketGroups, SockDiagsWordWins) {
    SocketEntry s = held(9092, 40112);
    s.accepted = false;
    EXPECT_FALSE(is_server_side(s, true, kLinuxDefault));
    s = held(40112, 9092);
    s.accepted = true;
    EXPECT_TRUE(is_server_side(s, false, kLinuxDefault));
}

TEST(SocketGroups, UnknownSideGuessedFromPortsAndSharing) {
    EXPECT_TRUE(is_server_side(held(9092, 40112), false, kLinuxDefault));
    EXPECT_FALSE(is_server_side(held(40112, 8080), false, kLinuxDefault));
    EXPECT_FALSE(is_server_side(held(8080, 5432), false, kLinuxDefault));  // two bound ports
    EXPECT_TRUE(is_server_side(held(40112, 8080), true, kLinuxDefault));   // a shared local end
    // Above the range: bound by a program, not picked by connect().
    EXPECT_TRUE(is_server_side(held(61000, 40112), false, kLinuxDefault));
}

TEST(SocketGroups, UnknownSideJudgedByTheHostsOwnRange) {
    const std::pair<uint16_t, uint16_t> narrow = {10000, 20000};
    // 30000 lies outside this host's range (a listener's) and 15000 inside it.
    EXPECT_TRUE(is_server_side(held(30000, 15000), false, narrow));
    EXPECT_FALSE(is_server_side(held(30000, 15000), false, kLinuxDefault));
    EXPECT_FALSE(is_server_side(held(15000, 30000), false, narrow));
    EXPECT_FALSE(is_server_side(held(30000, 9000), false, narrow));
}

TEST(SocketGroups, HeldSocketsGroupedByTheEndpointOfTheirSide) {
    Report r;
    r.sockets = {held(30000, 15000, "10.0.0.77"), held(30000, 15001, "10.0.0.78"),
                 held(41000, 8080, "10.0.0.79")};
    // Two sockets on one local endpoint: a server's, whatever the range.
    for (const auto& range : {kLinuxDefault, std::pair<uint16_t, uint16_t>{10000, 20000}}) {
        r.local_port_range = range;
        const auto groups = group_sockets(r);
        ASSERT_EQ(groups.size(), 2u);
        EXPECT_TRUE(groups[0].held);
        EXPECT_TRUE(groups[0].server_side);
        EXPECT_EQ(groups[0].sockets.size(), 2u);
        EXPECT_FALSE(groups[1].server_side);
        EXPECT_EQ(groups[1].sockets.front()->remote.port, 8080);
    }
    // One socket alone: its side comes from the range.
    r.sockets = {held(30000, 15000)};
    r.local_port_range = kLinuxDefault;
    EXPECT_FALSE(group_sockets(r).at(0).server_side);
    r.local_port_range = {10000, 20000};
    EXPECT_TRUE(group_sockets(r).at(0).server_side);
}

TEST(SocketGroups, LargestGroupFirstThenOldest) {
    Report r = fixtures::connect_ipv4_report();
    SocketEntry unknown = held(9092, 40112);
    unknown.close_wait_seconds = 1e6;
    r.sockets.push_back(unknown);
    const auto groups = group_sockets(r);
    ASSERT_EQ(groups.size(), 2u);
    EXPECT_EQ(groups[0].sockets.size(), 3u);
    EXPECT_FALSE(groups[0].held);
    EXPECT_GE(best_age_seconds(*groups[0].sockets[0]), best_age_seconds(*groups[0].sockets[1]));
    EXPECT_TRUE(groups[1].held);
}

// Oldest first by the best age known (an estimate over the traced age), equal ages in the order
// given, whether the sockets came in that order (a report's) or not (one read back, merged groups).
TEST(SocketGroups, SortOldestFirstKeepsTiesInOrder) {
    std::vector<SocketEntry> entries(5);
    const double ages[] = {3, 9, 3, 1, 9};
    for (size_t i = 0; i < entries.size(); ++i) entries[i].close_wait_seconds = ages[i];
    entries[2].age_estimate_seconds = 20;  // its estimate counts, not its traced age
    std::vector<const SocketEntry*> sockets;
    for (const SocketEntry& e : entries) sockets.push_back(&e);
    sort_oldest_first(sockets);
    const std::vector<const SocketEntry*> want = {&entries[2], &entries[1], &entries[4],
                                                  &entries[0], &entries[3]};
    EXPECT_EQ(sockets, want);
    sort_oldest_first(sockets);  // in order already: unchanged
    EXPECT_EQ(sockets, want);
}

}  // namespace
}  // namespace cwtrace
