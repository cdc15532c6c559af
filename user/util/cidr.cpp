#include "util/cidr.h"

#include <arpa/inet.h>

#include <charconv>
#include <string>

namespace cwtrace {
namespace {

constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool masked_equal(const uint8_t* a, const uint8_t* b, const uint8_t* mask, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if ((a[i] & mask[i]) != (b[i] & mask[i])) return false;
    return true;
}

}  // namespace

void cidr_mask(const Cidr& range, uint8_t (&mask)[16]) {
    for (size_t i = 0; i < 16; ++i) {
        const int bits = static_cast<int>(range.prefix) - static_cast<int>(i) * 8;
        mask[i] = bits >= 8 ? 0xff : bits <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - bits));
    }
}

std::optional<Cidr> parse_cidr(std::string_view text) {
    const size_t slash = text.find('/');
    const std::string addr(text.substr(0, slash));
    Cidr range;
    range.inet6 = addr.find(':') != std::string::npos;
    if (inet_pton(range.inet6 ? AF_INET6 : AF_INET, addr.c_str(), range.addr) != 1)
        return std::nullopt;
    const unsigned max_prefix = range.inet6 ? 128 : 32;
    unsigned prefix = max_prefix;
    if (slash != std::string_view::npos) {
        const std::string_view digits = text.substr(slash + 1);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
        if (digits.empty() || digits.size() > 3 || ec != std::errc() ||
            end != digits.data() + digits.size() || prefix > max_prefix)
            return std::nullopt;
    }
    range.prefix = static_cast<uint8_t>(prefix);
    uint8_t mask[16];
    cidr_mask(range, mask);
    for (size_t i = 0; i < 16; ++i)
        if (range.addr[i] & ~mask[i]) return std::nullopt;
    return range;
}

bool contains(const Cidr& range, bool inet6, const uint8_t (&addr)[16]) {
    uint8_t mask[16];
    cidr_mask(range, mask);
    if (range.inet6) return inet6 && masked_equal(addr, range.addr, mask, 16);
    if (!inet6) return masked_equal(addr, range.addr, mask, 4);
    for (size_t i = 0; i < 12; ++i)
        if (addr[i] != kMappedPrefix[i]) return false;
    return masked_equal(addr + 12, range.addr, mask, 4);
}

}  // namespace cwtrace
