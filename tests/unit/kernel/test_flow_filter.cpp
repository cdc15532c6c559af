#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstring>

#include "kernel/flow_filter.h"

using namespace cwtrace;

// The kernel compares (address & mask) == addr word by word: the mask must cover exactly the
// prefix, and an IPv4 range nothing past its 4 bytes.
TEST(FlowFilter, KernelRangeMasks) {
    const KernelRange v4 = kernel_range(*parse_cidr("10.128.0.0/9"));
    EXPECT_EQ(v4.family, AF_INET);
    const uint32_t v4_mask[4] = {htonl(0xff800000)};
    const uint32_t v4_addr[4] = {htonl(0x0a800000)};
    EXPECT_EQ(0, memcmp(v4.mask, v4_mask, 16));
    EXPECT_EQ(0, memcmp(v4.addr, v4_addr, 16));
    const KernelRange v6 = kernel_range(*parse_cidr("::1"));
    EXPECT_EQ(v6.family, AF_INET6);
    for (uint32_t word : v6.mask) EXPECT_EQ(word, 0xffffffffu);
    EXPECT_EQ(v6.addr[3], htonl(1));
}
