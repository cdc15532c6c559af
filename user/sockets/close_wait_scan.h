// The sockets in CLOSE_WAIT now, as sock_diag lists them in every network namespace, with what
// a report says of each (queues, accepted or a client's, the time since the last ACK).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cwtrace/abi.h"
#include "model/report.h"
#include "sockets/sock_diag.h"
#include "sockets/socket_table.h"

namespace cwtrace {

// The flow of a socket found by sock_diag, as the tracer's events name it.
cw_flow flow_of(const DiagSocket& socket);

// What sock_diag says of a socket in CLOSE_WAIT, as a report uses it.
struct SocketFacts {
    bool found = false;  // false: no dump listed it (closed meanwhile, or a namespace not dumped)
    bool has_tcp_info = false;
    std::optional<bool> accepted;  // see SocketEntry::accepted
    uint32_t recv_q = 0, send_q = 0;
    uint32_t last_ack_recv_ms = 0;
};

// What a socket's receive queue in CLOSE_WAIT says of the code that holds it.
Diagnosis diagnose(uint32_t recv_q);

// The ports connect() picks from (net.ipv4.ip_local_port_range; Linux's default if unreadable).
std::pair<uint16_t, uint16_t> ephemeral_ports();

// Every socket in CLOSE_WAIT now, in every network namespace, with its facts; the listening
// sockets are dumped first, to tell an accepted socket from a client's.
using FactsVisitor = std::function<void(const DiagSocket&, const SocketFacts&)>;
void for_each_close_wait(const FactsVisitor& visit);

// A dumped socket as a report keeps it: what reconcile and the builder read of it, 72 bytes where
// the whole DiagSocket with its tcp_info took 160 (a million are written at each report after a
// loss, every page of them faulted in).
struct DumpedSocket {
    cw_flow flow = {};
    uint64_t inode = 0;
    SocketFacts facts;
};

// The sockets in CLOSE_WAIT now, in every network namespace, with their facts (with --pid, and
// after a lost event). Kept for the report being built: one dump of a million sockets serves
// both the table's reconciliation and the report's facts. `expected`: about how many (the
// vector's room, taken at once: grown by doubling, a million sockets were copied and faulted in
// again at each step).
std::vector<DumpedSocket> close_wait_now(size_t expected = 0);

// Tells which of a list of tracked sockets a dumped one is: by inode (flows are unique within a
// network namespace only), or by flow for one tracked before it had an inode (in a listen queue
// then).
// Inodes are kept sorted, not hashed: a million of them are one array, and a whole dump is
// matched against it in one merge (look_up_close_wait()).
class TrackedIndex {
  public:
    explicit TrackedIndex(size_t expected) { by_inode_.reserve(expected); }
    // The socket at position `at` in the list.
    void add(uint32_t at, const TrackedSocket& socket);
    // After the last add(), before the first question (which may then come from many threads).
    void finish() { std::sort(by_inode_.begin(), by_inode_.end()); }
    // The sockets added with an inode: (inode, position), ascending, once finished.
    const std::vector<std::pair<uint64_t, uint32_t>>& by_inode() const { return by_inode_; }
    bool holds(uint64_t inode) const;
    std::optional<uint32_t> find(const DiagSocket& d) const;
    // Calls `found` with each dumped socket's position in `dump` and the tracked one's.
    void match(const std::vector<DumpedSocket>& dump,
               const std::function<void(size_t, uint32_t)>& found) const;

  private:
    std::optional<uint32_t> at_inode(uint64_t inode) const;

    std::vector<std::pair<uint64_t, uint32_t>> by_inode_;  // inode, position
    std::unordered_map<cw_flow, uint32_t, FlowHash, FlowEqual> by_flow_;
};

// What sock_diag says now of each socket `index` knows, handed to `found` with its position.
using FoundFacts = std::function<void(uint32_t at, const SocketFacts&)>;
void look_up_close_wait(const TrackedIndex& index, const FoundFacts& found);
// The same from a dump already taken.
void look_up_close_wait(const TrackedIndex& index, const std::vector<DumpedSocket>& dump,
                        const FoundFacts& found);

}  // namespace cwtrace
