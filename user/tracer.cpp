#include "cwtrace/tracer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cwtrace.skel.h"

namespace cwtrace {
namespace {

int libbpf_to_spdlog(libbpf_print_level level, const char* format, va_list args) {
    va_list copy;
    va_copy(copy, args);
    int n = std::vsnprintf(nullptr, 0, format, copy);
    va_end(copy);
    if (n <= 0) return n;
    std::string text(static_cast<size_t>(n), '\0');
    std::vsnprintf(text.data(), text.size() + 1, format, args);
    while (!text.empty() && text.back() == '\n') text.pop_back();
    // libbpf's warnings are mostly the verifier log of a failed load: shown with --verbose.
    spdlog::debug("libbpf{}: {}", level == LIBBPF_WARN ? " warning" : "", text);
    return n;
}

Error load_error(const char* step, int err) {
    err = std::abs(err);
    std::string message = std::string("BPF ") + step + " failed: " + std::strerror(err);
    if (err == EPERM || err == EACCES)
        return {message, "run as root, or grant CAP_BPF and CAP_PERFMON"};
    if (err == ENOENT && std::strcmp(step, "attach") == 0)
        return {message, "is tracefs mounted? mount -t tracefs tracefs /sys/kernel/tracing"};
    return {message, "run with --verbose to see libbpf's log"};
}

void resize(bpf_map* map, uint32_t entries) {
    if (entries) bpf_map__set_max_entries(map, entries);
}

}  // namespace

Result<std::unique_ptr<Tracer>> Tracer::start(const TracerConfig& config, RecordHandler handler) {
    libbpf_set_print(libbpf_to_spdlog);
    std::unique_ptr<Tracer> tracer(new Tracer());
    tracer->handler_ = std::move(handler);

    LIBBPF_OPTS(bpf_object_open_opts, open_opts);
    if (!config.btf_path.empty()) open_opts.btf_custom_path = config.btf_path.c_str();
    tracer->skel_ = cwtrace_bpf__open_opts(&open_opts);
    if (!tracer->skel_) return load_error("open", errno);

    auto* skel = tracer->skel_;
    const size_t n = std::min<size_t>(config.pids.size(), CW_MAX_PID_FILTER);
    for (size_t i = 0; i < n; ++i) skel->rodata->filter_pids[i] = config.pids[i];
    skel->rodata->filter_pid_count = static_cast<uint32_t>(n);
    skel->rodata->closer_min_age_ns = config.closer_min_age_ns;
    skel->rodata->user_stack_mode = config.user_stack_mode;
    skel->rodata->user_stack_bytes = config.user_stack_bytes;
    resize(skel->maps.origins, config.origin_entries);
    resize(skel->maps.close_wait_since, config.origin_entries);
    resize(skel->maps.stacks, config.stack_entries);
    resize(skel->maps.events, config.ringbuf_bytes);

    if (int err = cwtrace_bpf__load(skel)) return load_error("load", err);
    if (int err = cwtrace_bpf__attach(skel)) return load_error("attach", err);

    tracer->ringbuf_ =
        ring_buffer__new(bpf_map__fd(skel->maps.events), &Tracer::on_record, tracer.get(), nullptr);
    if (!tracer->ringbuf_) return load_error("ring buffer setup", errno);
    return tracer;
}

Tracer::~Tracer() {
    ring_buffer__free(ringbuf_);
    cwtrace_bpf__destroy(skel_);  // detaches every link and closes every map
}

int Tracer::on_record(void* self, void* data, size_t size) {
    static_cast<Tracer*>(self)->handler_({static_cast<const std::byte*>(data), size});
    return 0;
}

int Tracer::drain(int timeout_ms) {
    int woken = ring_buffer__poll(ringbuf_, timeout_ms);
    if (woken < 0 && woken != -EINTR) return woken;
    int consumed = ring_buffer__consume(ringbuf_);
    if (consumed < 0) return consumed;
    return (woken > 0 ? woken : 0) + consumed;
}

KernelCounters Tracer::counters() const {
    KernelCounters out;
    const int ncpus = libbpf_num_possible_cpus();
    std::vector<uint64_t> per_cpu(ncpus > 0 ? ncpus : 1);
    for (uint32_t key = 0; key < CW_CNT_MAX; ++key) {
        if (bpf_map__lookup_elem(skel_->maps.counters, &key, sizeof key, per_cpu.data(),
                                 per_cpu.size() * sizeof(uint64_t), 0))
            continue;
        for (uint64_t v : per_cpu) out.counter[key] += v;
    }
    bpf_program* prog;
    bpf_object__for_each_program(prog, skel_->obj) {
        bpf_prog_info info = {};
        uint32_t len = sizeof info;
        if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) == 0)
            out.recursion_misses += info.recursion_misses;
    }
    return out;
}

std::vector<uint64_t> Tracer::stack(int32_t stack_id) const {
    if (stack_id < 0) return {};
    uint64_t ips[CW_MAX_STACK_DEPTH] = {};
    uint32_t key = static_cast<uint32_t>(stack_id);
    if (bpf_map__lookup_elem(skel_->maps.stacks, &key, sizeof key, ips, sizeof ips, 0)) return {};
    std::vector<uint64_t> out;
    for (uint64_t ip : ips) {
        if (ip == 0) break;
        out.push_back(ip);
    }
    return out;
}

bool Tracer::set_python_process(uint32_t pid, const cw_python_proc& entry) {
    return bpf_map__update_elem(skel_->maps.python_procs, &pid, sizeof pid, &entry, sizeof entry,
                                BPF_ANY) == 0;
}

std::optional<cw_py_stack> Tracer::python_stack(uint64_t stack_id) const {
    cw_py_stack stack;
    if (bpf_map__lookup_elem(skel_->maps.py_stacks, &stack_id, sizeof stack_id, &stack,
                             sizeof stack, 0))
        return std::nullopt;
    return stack;
}

}  // namespace cwtrace
