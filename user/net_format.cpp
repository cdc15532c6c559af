#include "cwtrace/net_format.h"

#include <arpa/inet.h>

namespace cwtrace {

std::string format_addr(bool inet6, const uint8_t (&addr)[16]) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (!inet_ntop(inet6 ? AF_INET6 : AF_INET, addr, buf, sizeof buf)) return "?";
    return buf;
}

std::string format_endpoint(bool inet6, const std::string& addr, uint16_t port) {
    return (inet6 ? "[" + addr + "]" : addr) + ":" + std::to_string(port);
}

}  // namespace cwtrace
