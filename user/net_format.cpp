#include "cwtrace/net_format.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <stdexcept>

#include "cwtrace/report.h"

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

Endpoint::Endpoint(bool is_inet6, const uint8_t (&address)[16], uint16_t port_number)
    : inet6(is_inet6), port(port_number) {
    std::memcpy(bytes, address, is_inet6 ? 16 : 4);
}

Endpoint::Endpoint(std::string_view text, uint16_t port_number) {
    auto parsed = parse(text, port_number);
    if (!parsed) throw std::invalid_argument("not an IP address: " + std::string(text));
    *this = *parsed;
}

std::optional<Endpoint> Endpoint::parse(std::string_view text, uint16_t port_number) {
    char buf[INET6_ADDRSTRLEN];
    if (text.size() >= sizeof buf) return std::nullopt;
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    Endpoint e;
    e.port = port_number;
    if (inet_pton(AF_INET, buf, e.bytes) == 1) return e;
    if (inet_pton(AF_INET6, buf, e.bytes) != 1) return std::nullopt;
    e.inet6 = true;
    return e;
}

std::string Endpoint::addr() const { return format_addr(inet6, bytes); }

std::string format_endpoint(bool inet6, const Endpoint& endpoint) {
    return format_endpoint(inet6, endpoint.addr(), endpoint.port);
}

}  // namespace cwtrace
