#include "owners/socket_holders.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cwtrace/abi.h"
#include "fd_walk.skel.h"

namespace cwtrace {
namespace {

// Runs before a walk gives up (each run makes progress: this bounds a bug, not a host).
constexpr uint64_t kMaxRuns = 1'000'000;

Error walk_error(const char* step, int err) {
    return {std::string("BPF socket walk: ") + step + " failed: " + std::strerror(std::abs(err)),
            "owners are read from /proc instead"};
}

}  // namespace

Result<std::unique_ptr<SocketHolders>> SocketHolders::load(const SocketHoldersConfig& config) {
    if (config.direct_reads) {
        auto direct = load_variant(config, true);
        if (direct) return direct;
        spdlog::debug("{}: the walk reading through helper calls instead", direct.error().message);
    }
    return load_variant(config, false);
}

Result<std::unique_ptr<SocketHolders>> SocketHolders::load_variant(
    const SocketHoldersConfig& config, bool direct) {
    std::unique_ptr<SocketHolders> holders(new SocketHolders());
    holders->skel_ = fd_walk_bpf__open();
    if (!holders->skel_) return walk_error("open", errno);
    auto* skel = holders->skel_;
    skel->rodata->wanted_states = 1u << CW_TCP_CLOSE_WAIT;
    skel->data->steps_per_run = config.steps_per_run ? config.steps_per_run : 1;
    if (config.ringbuf_bytes) bpf_map__set_max_entries(skel->maps.held, config.ringbuf_bytes);
    bpf_program__set_autoload(skel->progs.walk_fds, direct);
    bpf_program__set_autoload(skel->progs.walk_fds_probed, !direct);
    if (int err = fd_walk_bpf__load(skel)) return walk_error("load", err);
    holders->program_ = direct ? skel->progs.walk_fds : skel->progs.walk_fds_probed;
    holders->ring_ = ring_buffer__new(bpf_map__fd(skel->maps.held), &SocketHolders::on_record,
                                      holders.get(), nullptr);
    if (!holders->ring_) return walk_error("ring buffer", errno);
    return holders;
}

SocketHolders::~SocketHolders() {
    ring_buffer__free(ring_);
    fd_walk_bpf__destroy(skel_);
}

bool SocketHolders::direct_reads() const { return program_ == skel_->progs.walk_fds; }

int SocketHolders::on_record(void* self, void* data, size_t size) {
    auto* holders = static_cast<SocketHolders*>(self);
    if (size < sizeof(cw_held_socket)) return 0;
    cw_held_socket rec;
    std::memcpy(&rec, data, sizeof rec);
    if ((*holders->wanted_)(rec.ino))
        holders->found_.emplace_back(rec.ino, static_cast<pid_t>(rec.pid));
    return 0;
}

std::optional<HeldSockets> SocketHolders::walk(const InodeFilter& wanted) {
    // A fresh start: no process read yet.
    const int walked_fd = bpf_map__fd(skel_->maps.walked);
    std::vector<uint32_t> pids;
    for (uint32_t key = 0, next = 0;
         !bpf_map_get_next_key(walked_fd, pids.empty() ? nullptr : &key, &next); key = next)
        pids.push_back(next);
    for (uint32_t pid : pids) bpf_map_delete_elem(walked_fd, &pid);
    const uint32_t zero = 0;
    cw_fd_walk state = {};
    if (bpf_map__update_elem(skel_->maps.walk, &zero, sizeof zero, &state, sizeof state, 0))
        return std::nullopt;

    wanted_ = &wanted;
    found_.clear();
    stats_ = {};
    skel_->bss->self_seen = 0;
    skel_->bss->self_sockets = 0;
    const int prog_fd = bpf_program__fd(program_);
    for (;;) {
        LIBBPF_OPTS(bpf_test_run_opts, run);
        const int err = bpf_prog_test_run_opts(prog_fd, &run);
        ++stats_.runs;
        ring_buffer__consume(ring_);
        if (err ||
            bpf_map__lookup_elem(skel_->maps.walk, &zero, sizeof zero, &state, sizeof state, 0)) {
            spdlog::debug("BPF socket walk: run failed: {}", std::strerror(err ? -err : errno));
            return std::nullopt;
        }
        if (run.retval) {
            spdlog::debug("BPF socket walk: stopped by the program (process list or map full)");
            return std::nullopt;
        }
        // The walk names processes as the host sees them; /proc here may be another view.
        if (state.self_pid != static_cast<uint32_t>(getpid())) {
            spdlog::debug(
                "BPF socket walk: cwtrace is pid {} on the host, {} here (own pid "
                "namespace): not used",
                state.self_pid, getpid());
            return std::nullopt;
        }
        if (state.done) break;
        if (stats_.runs >= kMaxRuns) return std::nullopt;
    }
    wanted_ = nullptr;
    stats_.processes = state.processes;
    stats_.fds = state.fds;
    stats_.found = state.found;
    stats_.self_seen = skel_->bss->self_seen != 0;
    stats_.self_sockets = skel_->bss->self_sockets;
    return std::move(found_);
}

}  // namespace cwtrace
