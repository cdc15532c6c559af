// The report's sockets in the groups a reader sees: one per opening path, and those whose path is
// unknown (already in CLOSE_WAIT at start) one per holder and connection instead, where the
// connection is named by its server's endpoint. Which end of a connection a socket is gets decided
// here, once, so that no renderer guesses it.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "model/report.h"
#include "report/opening_paths.h"

namespace cwtrace {

struct SocketGroup {
    const Origin* origin = nullptr;           // the opening path (of the first socket)
    std::vector<const SocketEntry*> sockets;  // group_sockets(): oldest first
    bool held = false;         // origin unknown: grouped by holder and endpoint instead
    bool server_side = false;  // held sockets taken for a server's: keyed by their local endpoint
};

// Whether a socket is the server's end of its connection: as sock_diag saw it (`accepted`) when
// it did; else a socket whose local endpoint other sockets of its holder share
// (`local_endpoint_shared`), or whose local port lies outside `ephemeral_ports` (first, last)
// while its peer's is at or above the range's first port.
bool is_server_side(const SocketEntry& socket, bool local_endpoint_shared,
                    std::pair<uint16_t, uint16_t> ephemeral_ports);

// A path's sockets (of unknown origin) split by holder, then by the endpoint that names the
// connection: a server's end's local endpoint, a client's remote one. In the order of (holder,
// side, endpoint) as text; the sockets of each in report order.
std::vector<SocketGroup> group_by_holder(const PathGroup& path,
                                         std::pair<uint16_t, uint16_t> ephemeral_ports);

// Every socket of the report in a group: by opening path, by holder where the path is unknown
// (sides judged by the report's local_port_range). Largest group first; ties: oldest socket
// first, then by path (opening_paths.h's order).
std::vector<SocketGroup> group_sockets(const Report& report);

}  // namespace cwtrace
