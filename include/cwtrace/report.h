// The report model: pure data, built from the socket table, consumed by the renderers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cwtrace {

struct Endpoint {
    std::string addr;  // "127.0.0.1", "::1"
    uint16_t port = 0;
};

struct Frame {
    std::string function;  // "[unknown]" when no symbol covers the address
    std::string module;    // path of the mapped file; empty for kernel frames
    // Where debug info tells. Default-initialized so that Frame{function, module} stays
    // warning-free under -Wextra (-Wmissing-field-initializers).
    std::optional<std::string> file = {};
    std::optional<uint32_t> line = {};
};

enum class OriginKind { Unknown, Connect, Accept };

struct Origin {
    OriginKind kind = OriginKind::Unknown;
    std::optional<uint32_t> pid, tid;
    std::optional<std::string> comm;
    std::vector<Frame> user_stack;    // innermost first
    std::vector<Frame> kernel_stack;  // innermost first
};

// Why a socket sits in CLOSE_WAIT, from its receive queue (the FIN takes one sequence number,
// consumed when the program reads EOF).
enum class Diagnosis {
    Unknown,           // not visible to sock_diag (another network namespace)
    UnreadData,        // Recv-Q > 1: data never read, typical of a pooled idle connection
    EofNotRead,        // Recv-Q = 1: every byte read but not the EOF
    EofReadNotClosed,  // Recv-Q = 0: EOF read, close() never called (leaked object, no `with`)
};

// What /proc tells about the owner beyond pid and comm.
struct OwnerDetails {
    std::string cmdline;
    std::optional<uint32_t> pid_in_namespace;  // when the owner is in a nested pid namespace
    std::string cgroup;
    std::optional<std::string> container_id;
};

struct SocketEntry {
    std::optional<uint32_t> pid;      // owner now (tgid); nullopt if unknown
    std::optional<std::string> comm;  // owner's comm now
    std::optional<OwnerDetails> owner;
    bool inet6 = false;
    Endpoint local, remote;
    double close_wait_seconds = 0;  // never more than the truth
    bool before_start = false;
    // For sockets found at start: seconds since the last segment received (the FIN, while the
    // socket is idle), from tcp_info. An estimate; --min-age judges such sockets by it.
    std::optional<double> age_estimate_seconds;
    std::optional<uint32_t> recv_q, send_q;  // raw queue sizes from sock_diag
    Diagnosis diagnosis = Diagnosis::Unknown;
    Origin origin;
};

struct Stats {
    uint64_t events = 0;       // kernel events received
    uint64_t lost_events = 0;  // sum of every loss below
    // The losses, by cause, so a reader can tell what is missing.
    uint64_t ringbuf_full = 0;
    uint64_t origin_map_full = 0;
    uint64_t stacks_lost = 0;
    uint64_t accept_unresolved = 0;
    uint64_t recursion_misses = 0;
    uint64_t decode_errors = 0;
};

struct Report {
    double min_age_seconds = 0;
    double tracing_seconds = 0;
    std::vector<SocketEntry> sockets;  // oldest first
    Stats stats;
};

const char* to_string(OriginKind kind);
const char* to_string(Diagnosis diagnosis);  // "unread_data", ... ("unknown")
// One socket's diagnosis in a few words, for a column: "12 B unread", "EOF unread", "never closed".
std::string describe(Diagnosis diagnosis, std::optional<uint32_t> recv_q);
// The same for counting a group's sockets: "never read to the end", "EOF read but never closed".
const char* summarize(Diagnosis diagnosis);
// What usually causes it, in a line: "typical of an idle pooled connection", ...
const char* likely_cause(Diagnosis diagnosis);

}  // namespace cwtrace
