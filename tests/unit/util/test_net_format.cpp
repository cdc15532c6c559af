#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "model/report.h"
#include "util/net_format.h"

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
    // A report's endpoint, as the text renderers print it.
    EXPECT_EQ(format_endpoint(false, Endpoint("10.0.0.1", 80)), "10.0.0.1:80");
    EXPECT_EQ(format_endpoint(true, Endpoint("2001:db8::42", 443)), "[2001:db8::42]:443");
}

// A report keeps an endpoint's address as bytes: text parsed back gives the text cwtrace writes.
TEST(NetFormat, EndpointTextRoundTrips) {
    for (const char* text : {"127.0.0.1", "0.0.0.0", "255.255.255.255", "::1", "::ffff:10.1.2.3",
                             "2001:db8::42", "fe80::1:2:3:4"}) {
        const auto e = Endpoint::parse(text, 8080);
        ASSERT_TRUE(e) << text;
        EXPECT_EQ(e->addr(), text);
        EXPECT_EQ(e->port, 8080);
        EXPECT_EQ(e->inet6, std::string_view(text).find(':') != std::string_view::npos) << text;
    }
    const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
    EXPECT_EQ(Endpoint(true, mapped, 1).addr(), "::ffff:10.1.2.3");
    EXPECT_EQ(Endpoint(false, mapped, 1).addr(), "0.0.0.0");  // IPv4: the first 4 bytes
}

TEST(NetFormat, EndpointFromTextRejectsWhatIsNoAddress) {
    for (const char* text : {"", "localhost", "127.0.0.1:80", "[::1]", "1.2.3", "::1\n", "1.2.3.4 ",
                             "0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000"})
        EXPECT_FALSE(Endpoint::parse(text, 1)) << text;
    EXPECT_THROW(Endpoint("example.com", 80), std::invalid_argument);
}
