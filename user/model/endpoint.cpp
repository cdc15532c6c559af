// Endpoints: an address kept as its bytes, made text when rendered.
#include <arpa/inet.h>

#include <cstring>
#include <stdexcept>

#include "model/report.h"
#include "util/net_format.h"

namespace cwtrace {

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
