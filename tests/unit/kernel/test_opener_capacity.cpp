// The opener map's size from the host's TCP figures: sockstat parsed, the most the host can hold
// doubled to a power of two, never below the old default nor above the memory cap.
#include <gtest/gtest.h>

#include "kernel/opener_capacity.h"

namespace cwtrace {
namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;

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
    return {now, orphans, mem_pages, memory};
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

}  // namespace
}  // namespace cwtrace
