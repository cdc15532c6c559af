// TCP sockets as the kernel lists them through NETLINK_SOCK_DIAG (the interface `ss` uses):
// the snapshot of sockets that were already in CLOSE_WAIT before tracing started.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "util/result.h"

namespace cwtrace {

// Raw fields of the socket's struct tcp_info (INET_DIAG_INFO), as of the dump.
// Fields a kernel's tcp_info is too short to hold stay 0.
struct DiagTcpInfo {
    // Since the last segment carrying data arrived (or since the connection was established when
    // none did). A bare FIN does not count (measured on 6.18), so for a socket in CLOSE_WAIT this
    // is an upper bound on the time since the FIN.
    uint32_t last_data_recv_ms = 0;
    // Since the last segment with an acceptable ACK arrived. The FIN is one, but later ACKs (of
    // data this end sends after the FIN, of keepalive probes) restart it, so for a socket in
    // CLOSE_WAIT this is a lower bound on the time since the FIN, equal to it while idle.
    uint32_t last_ack_recv_ms = 0;
    uint32_t last_data_sent_ms = 0;
    uint32_t rtt_us = 0;
    uint32_t unacked = 0;  // segments sent and not yet acknowledged
    uint32_t total_retrans = 0;
    uint64_t bytes_received = 0;  // 0 before Linux 4.1
    uint64_t bytes_acked = 0;     // 0 before Linux 4.1
    uint32_t data_segs_in = 0;    // 0 before Linux 4.6
    uint32_t data_segs_out = 0;   // 0 before Linux 4.6
};

struct DiagSocket {
    bool inet6 = false;      // AF_INET6 socket; v4-mapped peers of dual-stack sockets included
    uint8_t saddr[16] = {};  // IPv4 in the first 4 bytes, like the tracer's events
    uint8_t daddr[16] = {};
    uint16_t sport = 0;  // host byte order
    uint16_t dport = 0;  // host byte order
    uint8_t state = 0;   // enum cw_tcp_state
    // 0 when no struct socket holds it, e.g. one still waiting in a listener's accept queue.
    uint64_t inode = 0;
    uint32_t uid = 0;
    // idiag_rqueue: rcv_nxt - copied_seq. The FIN takes one sequence number and reading EOF
    // (read() returning 0) consumes it, so in CLOSE_WAIT: 0 = EOF read, 1 = every data byte read
    // but not the EOF, n + 1 = n bytes of data never read.
    uint32_t recv_q = 0;
    uint32_t send_q = 0;  // idiag_wqueue: bytes written and not yet acknowledged by the peer
    // idiag_cookie: the kernel's socket cookie (what bpf_get_socket_cookie() returns), not the
    // struct sock address.
    uint64_t cookie = 0;
    std::optional<DiagTcpInfo> tcp_info;  // absent when the kernel sent no usable INET_DIAG_INFO
};

// Every IPv4 and IPv6 TCP socket of the caller's network namespace whose state bit is set in
// `state_mask` (bit n = TCP state n, e.g. 1u << CW_TCP_CLOSE_WAIT), with its tcp_info. Sockets of
// other network namespaces (most containers) are not listed. The kernel walks every TCP socket of
// the namespace once per family, so the time grows with all of them, not only the matching ones.
Result<std::vector<DiagSocket>> dump_tcp_sockets(uint32_t state_mask);

// The same dump, streamed: `visit` sees each socket once, one netlink datagram (~80 sockets) at a
// time, so memory stays flat at a million sockets. On an error, sockets already visited stay
// visited. With `netns_fd` (an open /proc/PID/ns/net), the sockets of that network namespace.
using DiagVisitor = std::function<void(const DiagSocket&)>;
Result<void> for_each_tcp_socket(uint32_t state_mask, const DiagVisitor& visit, int netns_fd = -1);

enum class DiagParseStatus {
    More,         // every message was read; the dump goes on in the next datagram
    Done,         // NLMSG_DONE: the dump is complete (bytes after it are ignored)
    KernelError,  // NLMSG_ERROR, or NLMSG_DONE carrying a negative status
    Malformed,    // a length points outside the buffer or below its minimum; parsing stopped
};

struct DiagParseResult {
    DiagParseStatus status = DiagParseStatus::More;
    int error = 0;  // positive errno for KernelError
};

// Appends the sockets of one netlink datagram (a SOCK_DIAG_BY_FAMILY dump reply) to `out`.
// Pure: needs no alignment, never reads past the buffer, nlmsg_len or rta_len. Sockets parsed
// before a malformed message stay in `out`. Messages of other types and families are skipped.
DiagParseResult parse_diag_messages(std::span<const std::byte> datagram,
                                    std::vector<DiagSocket>& out);

const char* to_string(DiagParseStatus status);

}  // namespace cwtrace
