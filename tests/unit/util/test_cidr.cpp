#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>

#include "util/cidr.h"

using namespace cwtrace;

namespace {

struct Addr {
    bool inet6 = false;
    uint8_t bytes[16] = {};
};

Addr addr(const std::string& text) {
    Addr a;
    a.inet6 = text.find(':') != std::string::npos;
    EXPECT_EQ(inet_pton(a.inet6 ? AF_INET6 : AF_INET, text.c_str(), a.bytes), 1) << text;
    return a;
}

bool in(const std::string& range, const std::string& address) {
    auto r = parse_cidr(range);
    EXPECT_TRUE(r) << range;
    const Addr a = addr(address);
    return r && contains(*r, a.inet6, a.bytes);
}

}  // namespace

TEST(Cidr, BareAddressIsAHost) {
    auto v4 = parse_cidr("127.0.0.2");
    ASSERT_TRUE(v4);
    EXPECT_FALSE(v4->inet6);
    EXPECT_EQ(v4->prefix, 32);
    auto v6 = parse_cidr("::1");
    ASSERT_TRUE(v6);
    EXPECT_TRUE(v6->inet6);
    EXPECT_EQ(v6->prefix, 128);
    EXPECT_TRUE(in("127.0.0.2", "127.0.0.2"));
    EXPECT_FALSE(in("127.0.0.2", "127.0.0.1"));
    EXPECT_TRUE(in("::1", "::1"));
    EXPECT_FALSE(in("::1", "::2"));
}

TEST(Cidr, PrefixesOnAndOffByteBoundaries) {
    EXPECT_TRUE(in("10.0.0.0/8", "10.255.1.2"));
    EXPECT_FALSE(in("10.0.0.0/8", "11.0.0.1"));
    EXPECT_TRUE(in("10.0.0.0/9", "10.127.255.255"));
    EXPECT_FALSE(in("10.0.0.0/9", "10.128.0.0"));
    EXPECT_TRUE(in("0.0.0.0/0", "203.0.113.9"));
    EXPECT_TRUE(in("2001:db8::/32", "2001:db8:ffff::1"));
    EXPECT_FALSE(in("2001:db8::/32", "2001:db9::1"));
    EXPECT_TRUE(in("fc00::/7", "fdff::1"));
    EXPECT_FALSE(in("fc00::/8", "fd00::1"));
    EXPECT_TRUE(in("::/0", "2001:db8::1"));
}

// A dual-stack socket names an IPv4 peer ::ffff:a.b.c.d: an IPv4 range holds it.
TEST(Cidr, Ipv4RangeHoldsMappedAddresses) {
    EXPECT_TRUE(in("127.0.0.0/8", "::ffff:127.0.0.1"));
    EXPECT_FALSE(in("127.0.0.0/8", "::ffff:10.0.0.1"));
    EXPECT_FALSE(in("127.0.0.0/8", "::127.0.0.1"));  // compatible, not mapped
    EXPECT_FALSE(in("::1", "127.0.0.1"));            // families never mix otherwise
    EXPECT_FALSE(in("::/0", "127.0.0.1"));
}

TEST(Cidr, RefusesMalformedRanges) {
    for (const char* bad :
         {"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/8/8",
          "10.0.0.0/ 8", " 10.0.0.0", "10.0.0", "localhost", "10.1.2.3/8", "2001:db8::1/32",
          "10.0.0.0/1000", "::1/0x10", "1.2.3.4%lo", "[::1]"})
        EXPECT_FALSE(parse_cidr(bad)) << bad;
}

TEST(Cidr, MaskOverSixteenBytes) {
    uint8_t mask[16];
    cidr_mask(*parse_cidr("10.0.0.0/9"), mask);
    EXPECT_EQ(mask[0], 0xff);
    EXPECT_EQ(mask[1], 0x80);
    EXPECT_EQ(mask[2], 0);
    cidr_mask(*parse_cidr("2001:db8::/33"), mask);
    EXPECT_EQ(mask[3], 0xff);
    EXPECT_EQ(mask[4], 0x80);
    EXPECT_EQ(mask[15], 0);
}
