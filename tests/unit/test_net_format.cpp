#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <vector>

#include "cwtrace/net_format.h"

using namespace cwtrace;

TEST(NetFormat, Ipv4UsesFirstFourBytes) {
    const uint8_t addr[16] = {127, 0, 0, 1, 9, 9, 9, 9};
    EXPECT_EQ(format_addr(false, addr), "127.0.0.1");
}

// The dotted decimal cwtrace writes itself is inet_ntop()'s, at the widths' edges too.
TEST(NetFormat, Ipv4AsInetNtopWritesIt) {
    for (const auto& bytes : std::vector<std::array<uint8_t, 4>>{
             {0, 0, 0, 0}, {255, 255, 255, 255}, {10, 99, 100, 9}, {192, 168, 1, 254}}) {
        uint8_t addr[16] = {};
        std::copy(bytes.begin(), bytes.end(), addr);
        char expected[INET_ADDRSTRLEN];
        ASSERT_TRUE(inet_ntop(AF_INET, addr, expected, sizeof expected));
        EXPECT_EQ(format_addr(false, addr), expected);
    }
}

TEST(NetFormat, Ipv6Compressed) {
    uint8_t loopback[16] = {};
    loopback[15] = 1;
    EXPECT_EQ(format_addr(true, loopback), "::1");
    const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
    EXPECT_EQ(format_addr(true, mapped), "::ffff:10.1.2.3");
    const uint8_t doc[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42};
    EXPECT_EQ(format_addr(true, doc), "2001:db8::42");
}

TEST(NetFormat, EndpointBracketsIpv6) {
    EXPECT_EQ(format_endpoint(false, "10.0.0.1", 80), "10.0.0.1:80");
    EXPECT_EQ(format_endpoint(true, "::1", 8080), "[::1]:8080");
}
