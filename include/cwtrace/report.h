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
};

enum class OriginKind { Unknown, Connect, Accept };

struct Origin {
    OriginKind kind = OriginKind::Unknown;
    std::optional<uint32_t> pid, tid;
    std::optional<std::string> comm;
    std::vector<Frame> user_stack;    // innermost first
    std::vector<Frame> kernel_stack;  // innermost first
};

struct SocketEntry {
    std::optional<uint32_t> pid;      // owner now (tgid); nullopt if unknown
    std::optional<std::string> comm;  // owner's comm now
    bool inet6 = false;
    Endpoint local, remote;
    double close_wait_seconds = 0;
    bool before_start = false;
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

}  // namespace cwtrace
