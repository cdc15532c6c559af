// Address ranges (--remote): "10.0.0.0/8", "2001:db8::/32", a bare address as /32 or /128; and
// whether an address lies in one. An IPv4 range also holds the IPv4-mapped IPv6 addresses
// (::ffff:a.b.c.d) of a dual-stack socket, which talks to an IPv4 peer under that name.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace cwtrace {

struct Cidr {
    bool inet6 = false;
    uint8_t addr[16] = {};  // IPv4 in the first 4 bytes; the bits past the prefix are zero
    uint8_t prefix = 0;     // 0..32 or 0..128
    bool operator==(const Cidr&) const = default;
};

// nullopt when `text` is not an address with an optional "/N" in range (no spaces, no host
// names, no bits set past the prefix: "10.1.2.3/8" is refused as a likely typo).
std::optional<Cidr> parse_cidr(std::string_view text);

// Whether the address of a socket (`inet6`: 16 bytes, else 4) lies in `range`.
bool contains(const Cidr& range, bool inet6, const uint8_t (&addr)[16]);

// The range's mask, byte by byte, over 16 bytes (the first 4 for IPv4).
void cidr_mask(const Cidr& range, uint8_t (&mask)[16]);

}  // namespace cwtrace
