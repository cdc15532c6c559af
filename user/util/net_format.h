// Address formatting for sockets reported by the kernel.
#pragma once

#include <cstdint>
#include <string>

namespace cwtrace {

// Text form of an IPv4 (first 4 bytes used) or IPv6 address: "127.0.0.1", "::1".
std::string format_addr(bool inet6, const uint8_t (&addr)[16]);

// "127.0.0.1:8080" or "[::1]:8080".
std::string format_endpoint(bool inet6, const std::string& addr, uint16_t port);

}  // namespace cwtrace
