#include "util/net_format.h"

#include <arpa/inet.h>

#include <charconv>

namespace cwtrace {

std::string format_addr(bool inet6, const uint8_t (&addr)[16]) {
    if (!inet6) {
        // glibc's inet_ntop() formats IPv4 with sprintf(): a report of a million sockets made
        // two million calls of it. Dotted decimal with to_chars instead, the same text.
        char buf[INET_ADDRSTRLEN];
        char* at = buf;
        for (int i = 0; i < 4; ++i) {
            if (i) *at++ = '.';
            at = std::to_chars(at, buf + sizeof buf, addr[i]).ptr;
        }
        return std::string(buf, at);
    }
    char buf[INET6_ADDRSTRLEN] = {};
    if (!inet_ntop(inet6 ? AF_INET6 : AF_INET, addr, buf, sizeof buf)) return "?";
    return buf;
}

std::string format_endpoint(bool inet6, const std::string& addr, uint16_t port) {
    return (inet6 ? "[" + addr + "]" : addr) + ":" + std::to_string(port);
}

}  // namespace cwtrace
