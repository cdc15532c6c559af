// Which process holds each TCP socket in CLOSE_WAIT, read by a BPF program from every
// process's file table (bpf/fd_walk.bpf.c): the answer of a /proc/*/fd pass (owners.h) at a
// fraction of its cost, one readlink per descriptor being what makes that pass slow.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "owners/owners.h"
#include "util/result.h"

struct fd_walk_bpf;
struct ring_buffer;
struct bpf_program;

namespace cwtrace {

struct SocketHoldersConfig {
    uint32_t steps_per_run = 65536;  // descriptors (and bitmap words, processes) per program run
    uint32_t ringbuf_bytes = 0;      // 0: the object's default; small values make tests resume
    // The walk reading kernel fields by plain loads (kernel 6.2+: bpf/common.bpf.h), as the
    // tracer's direct programs do; the probed twin when false, or when the kernel refuses it.
    bool direct_reads = false;
};

struct WalkStats {
    uint64_t runs = 0, processes = 0, fds = 0, found = 0;
    // The walk's check of itself: whether it read the caller's own table, and the sockets there.
    bool self_seen = false;
    uint64_t self_sockets = 0;
};

class SocketHolders {
  public:
    // Loads the program (nothing is attached: it runs when asked). An error when this kernel
    // cannot load it (before 5.17: no bpf_loop): the caller reads /proc.
    static Result<std::unique_ptr<SocketHolders>> load(const SocketHoldersConfig& config = {});
    ~SocketHolders();
    SocketHolders(const SocketHolders&) = delete;
    SocketHolders& operator=(const SocketHolders&) = delete;

    // What find_socket_holders(wanted) finds, for sockets in CLOSE_WAIT; nullopt when the walk
    // failed or cannot be used (cwtrace in a pid namespace of its own: the walk sees the host's
    // pids, /proc that namespace's): the caller reads /proc.
    std::optional<HeldSockets> walk(const InodeFilter& wanted);

    const WalkStats& last_walk() const { return stats_; }
    // Whether the walk loaded reads kernel fields by plain loads.
    bool direct_reads() const;

  private:
    SocketHolders() = default;
    static Result<std::unique_ptr<SocketHolders>> load_variant(const SocketHoldersConfig& config,
                                                               bool direct);
    static int on_record(void* self, void* data, size_t size);

    fd_walk_bpf* skel_ = nullptr;
    bpf_program* program_ = nullptr;  // the variant loaded
    ring_buffer* ring_ = nullptr;
    const InodeFilter* wanted_ = nullptr;  // during walk()
    HeldSockets found_;
    WalkStats stats_;
};

}  // namespace cwtrace
