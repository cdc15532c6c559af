// The opener map's size from the host's TCP figures: sockstat parsed, the most the host can hold
// doubled to a power of two, never below the old default nor above the memory cap, the host's or
// its share of what cwtrace's memory cgroup leaves; the sizes tried when the kernel refuses it.
#include <gtest/gtest.h>

#include "kernel/opener_capacity.h"
#include "util/progress.h"

namespace cwtrace {
namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kMiB = uint64_t{1} << 20;

constexpr const char* kSockstat =
    "sockets: used 1000123\n"
    "TCP: inuse 700000 orphan 12 tw 340 alloc 1000050 mem 250001\n"
    "UDP: inuse 3 mem 1\n";
constexpr const char* kSockstat6 = "TCP6: inuse 300100\nUDP6: inuse 2\n";

TEST(TcpSocketsIn, AllocCountsBothFamilies) {
    EXPECT_EQ(tcp_sockets_in(kSockstat, kSockstat6), 1'000'100u);  // 700,000 + 300,100 > alloc
    EXPECT_EQ(tcp_sockets_in("TCP: inuse 2 orphan 0 tw 0 alloc 5 mem 407\n", "TCP6: inuse 3\n"),
              5u);
}

TEST(TcpSocketsIn, OneFileMissingOrBroken) {
    EXPECT_EQ(tcp_sockets_in("", "TCP6: inuse 42\n"), 42u);
    EXPECT_EQ(tcp_sockets_in("TCP: inuse 7 alloc x\n", ""), 7u);  // a bad value is not read
    EXPECT_EQ(tcp_sockets_in("UDP: inuse 3\n", "garbage"), std::nullopt);
    EXPECT_EQ(tcp_sockets_in("TCP: inuse 18446744073709551616\n", ""), std::nullopt);
}

HostTcp host(uint64_t now, uint64_t orphans, uint64_t mem_pages, uint64_t memory) {
    HostTcp h;
    h.sockets_now = now;
    h.max_orphans = orphans;
    h.mem_high_pages = mem_pages;
    h.mem_total_bytes = memory;
    return h;
}

TEST(OpenerCapacity, IdleSmallHostKeepsTheDefault) {
    const OpenerCapacity c = opener_capacity(host(40, 4096, 20'000, 2 * kGiB));
    EXPECT_EQ(c.entries, 262'144u);
    EXPECT_EQ(c.wanted, 32'768u);  // tcp_mem: 10,000 sockets, doubled, a power of two
    EXPECT_FALSE(c.capped);
}

TEST(OpenerCapacity, TwiceTheMostTheHostHoldsRoundedUp) {
    // A 24 GiB host with the kernel's defaults: tcp_mem's hard limit admits 287,907 sockets.
    const OpenerCapacity c = opener_capacity(host(5, 131'072, 575'814, 24 * kGiB));
    EXPECT_EQ(c.wanted, 1'048'576u);  // 2 x 287,907 = 575,814 -> 2^20
    EXPECT_EQ(c.entries, 1'048'576u);
    EXPECT_EQ(c.bytes(), 1'048'576u * 208);
    EXPECT_FALSE(c.capped);
    EXPECT_EQ(c.cap, 1'935'832u);  // 384 MiB / 208 bytes
    // The sockets there now count too.
    EXPECT_EQ(opener_capacity(host(700'000, 131'072, 575'814, 24 * kGiB)).entries, 1'935'832u);
}

TEST(OpenerCapacity, MemoryCapsIt) {
    // tcp_max_orphans raised for a million sockets, as scripts/bench --scale does, on 24 GiB.
    const OpenerCapacity c = opener_capacity(host(5, 1'065'536, 575'814, 24 * kGiB));
    EXPECT_EQ(c.wanted, 4'194'304u);  // 2 x 1,065,536 -> 2^22
    EXPECT_EQ(c.entries, 1'935'832u);
    EXPECT_TRUE(c.capped);
    // 4 GiB / 64 = 64 MiB: 322,638 entries of 208 bytes.
    EXPECT_EQ(opener_capacity(host(5, 1'065'536, 575'814, 4 * kGiB)).entries, 322'638u);
    // 64 GiB: 1 GiB allowed, 5,162,220 entries, 4,194,304 at most whatever the memory.
    const OpenerCapacity big = opener_capacity(host(9'000'000, 0, 0, 64 * kGiB));
    EXPECT_EQ(big.cap, 4'194'304u);
    EXPECT_EQ(big.entries, 4'194'304u);
    EXPECT_TRUE(big.capped);
}

TEST(OpenerCapacity, NothingKnownKeepsTheDefault) {
    const OpenerCapacity c = opener_capacity({});
    EXPECT_EQ(c.entries, 262'144u);
    EXPECT_EQ(c.cap, 262'144u);
    EXPECT_FALSE(c.capped);
}

TEST(OpenerCapacity, DescribedWithItsInputsAndCap) {
    const HostTcp h = host(5, 1'065'536, 575'814, 4 * kGiB);
    EXPECT_EQ(describe(opener_capacity(h), h),
              "322,638 entries (63 MiB) for 5 TCP sockets now, tcp_max_orphans 1,065,536, "
              "tcp_mem 575,814 pages; capped at 322,638 (1/64 of memory, at most 4,194,304)");
}

// A 24 GiB host with the kernel's defaults (1,048,576 entries planned) in a memory cgroup.
HostTcp in_cgroup(uint64_t headroom, uint64_t limit) {
    HostTcp h = host(5, 131'072, 575'814, 24 * kGiB);
    h.cgroup = CgroupRoom{headroom, limit, "/sys/fs/cgroup/t/memory.max"};
    return h;
}

TEST(OpenerCapacity, ACgroupCapsItAtItsShareAfterCwtracesOwn) {
    // 612 MiB left, 100 MiB of it cwtrace's own: 1/5 of 512 MiB is 107,374,182 bytes, 516,222
    // entries of 208.
    const OpenerCapacity c = opener_capacity(in_cgroup(612 * kMiB, 640 * kMiB), 100 * kMiB);
    EXPECT_EQ(c.entries, 516'222u);
    EXPECT_EQ(c.cap, 516'222u);
    EXPECT_TRUE(c.capped);
    EXPECT_TRUE(c.cgroup_capped());
    EXPECT_EQ(c.host_entries, 1'048'576u);
    EXPECT_EQ(cgroup_cap_warning(c, *in_cgroup(612 * kMiB, 640 * kMiB).cgroup),
              "opener map: 516,222 entries (102 MiB), not the 1,048,576 the host calls for: "
              "cwtrace's memory cgroup leaves 612 MiB (/sys/fs/cgroup/t/memory.max: 640 MiB); "
              "raise that limit so that a burst of connections keeps every opening path");
}

TEST(OpenerCapacity, ALargeCgroupLeavesTheHostsSize) {
    // 8 GiB left: its share (1.6 GiB) is more than the host's plan; the cgroup sets nothing.
    const OpenerCapacity c = opener_capacity(in_cgroup(8 * kGiB, 8 * kGiB), 100 * kMiB);
    EXPECT_EQ(c.entries, 1'048'576u);
    EXPECT_FALSE(c.cgroup_capped());
    EXPECT_FALSE(c.capped);
    // Nor does it raise the host's memory cap (1/64 of 24 GiB: 1,935,832 entries).
    HostTcp many = in_cgroup(64 * kGiB, 64 * kGiB);
    many.max_orphans = 4'000'000;
    EXPECT_EQ(opener_capacity(many, 100 * kMiB).entries, 1'935'832u);
    EXPECT_FALSE(opener_capacity(many, 100 * kMiB).cgroup_capped());
}

TEST(OpenerCapacity, ACgroupLeavingLessThanTheFloorGetsTheFloor) {
    // 96 MiB left, all of it cwtrace's own and more: the floor, which the kernel may refuse.
    const OpenerCapacity c = opener_capacity(in_cgroup(96 * kMiB, 96 * kMiB), 100 * kMiB);
    EXPECT_EQ(c.entries, 262'144u);
    EXPECT_TRUE(c.cgroup_capped());
    EXPECT_EQ(opener_capacity(in_cgroup(0, 96 * kMiB), 100 * kMiB).entries, 262'144u);
}

TEST(OpenerCapacity, DescribedWithTheCgroupsRoom) {
    const HostTcp h = in_cgroup(900 * kMiB, 1024 * kMiB);
    // cwtrace's own memory is larger under ASan: the entries follow from it.
    const uint64_t entries = (900 * kMiB - kOwnBytes) / 5 / 208;
    EXPECT_EQ(describe(opener_capacity(h), h),
              thousands(entries) + " entries (" + std::to_string(entries * 208 >> 20) +
                  " MiB) for 5 TCP sockets now, tcp_max_orphans 131,072, tcp_mem 575,814 pages; "
                  "cwtrace's memory cgroup leaves 900 MiB (/sys/fs/cgroup/t/memory.max: "
                  "1,024 MiB), the map at most 1/5 of it after cwtrace's own " +
                  std::to_string(kOwnBytes >> 20) + " MiB; capped at " + thousands(entries) +
                  " (1/64 of memory, at most 4,194,304, and the cgroup's share)");
}

// A map the kernel would not give its memory is tried at halves, the last try the floor.
TEST(OpenerMapSizes, HalvesDownToTheFloor) {
    EXPECT_EQ(opener_map_sizes(1'048'576), (std::vector<uint32_t>{1'048'576, 524'288, 262'144}));
    // A size capped by memory is no power of two: its halves, then the floor itself.
    EXPECT_EQ(opener_map_sizes(1'935'832),
              (std::vector<uint32_t>{1'935'832, 967'916, 483'958, 262'144}));
    EXPECT_EQ(opener_map_sizes(300'000), (std::vector<uint32_t>{300'000, 262'144}));
    EXPECT_EQ(opener_map_sizes(262'144), std::vector<uint32_t>{262'144});
    EXPECT_EQ(opener_map_sizes(64), std::vector<uint32_t>{64});
}

// The warning when the kernel refused the planned size and the map loaded smaller.
TEST(OpenerMapSizes, ShrunkWarningNamesBothSizesAndTheRefusal) {
    EXPECT_EQ(opener_map_shrunk(1'048'576, 262'144, "Cannot allocate memory"),
              "opener map: 262,144 entries (52 MiB), not the 1,048,576 planned (208 MiB): the "
              "kernel refused the memory (Cannot allocate memory); raise the memory limit of "
              "cwtrace's cgroup so that a burst of connections keeps every opening path");
}

}  // namespace
}  // namespace cwtrace

// Whole buckets of CW_OPENER_WAYS, at least the openers asked for, one bucket at the least.
TEST(OpenerBuckets, WholeBucketsHoldingAtLeastTheEntries) {
    for (uint32_t entries : {1u, 6u, 7u, 8u, 64u, 262'144u, 4'194'304u}) {
        const uint64_t ways = uint64_t{cwtrace::opener_buckets(entries)} * CW_OPENER_WAYS;
        EXPECT_GE(ways, entries) << entries;
        EXPECT_LT(ways, uint64_t{entries} + CW_OPENER_WAYS) << entries;
    }
    EXPECT_EQ(cwtrace::opener_buckets(0xffffffffu), 0xffffffffu / CW_OPENER_WAYS + 1);
}
