#include "kernel/tracer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/perf_event.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <numeric>
#include <system_error>
#include <thread>
#include <utility>

#include "cwtrace.skel.h"
#include "kernel/features.h"
#include "kernel/flow_filter.h"
#include "kernel/load_error.h"
#include "kernel/opener_capacity.h"
#include "util/clock.h"
#include "util/progress.h"

namespace cwtrace {
namespace {

// What libbpf logged of the load under way (one load at a time: start() runs once).
LoadLog load_log;

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
    if (level == LIBBPF_WARN) note_libbpf_warning(text, load_log);
    spdlog::debug("libbpf{}: {}", level == LIBBPF_WARN ? " warning" : "", text);
    return n;
}

std::string release;  // uname -r, for the messages

Error load_error(const char* step, int err) {
    load_log.error = err;
    return classify_load_failure(step, err, load_log, release);
}

struct TracepointSection {
    std::string category, name;
    bool raw = false;  // a raw tracepoint: the tracepoint's arguments, no record built
};

// "tracepoint/sock/inet_sock_set_state" -> {"sock", "inet_sock_set_state"},
// "raw_tp/inet_sock_set_state" -> the same, raw; empty if not one.
TracepointSection tracepoint_of(const bpf_program* prog) {
    const std::string section = bpf_program__section_name(prog);
    const std::string raw = "raw_tp/";
    if (section.rfind(raw, 0) == 0) {
        // Raw tracepoints are named without their category; cwtrace uses this one only.
        const std::string name = section.substr(raw.size());
        if (name != "inet_sock_set_state") return {};
        return {"sock", name, true};
    }
    const std::string prefix = "tracepoint/";
    const size_t slash = section.find('/', prefix.size());
    if (section.rfind(prefix, 0) != 0 || slash == std::string::npos) return {};
    return {section.substr(prefix.size(), slash - prefix.size()), section.substr(slash + 1), false};
}

// The tracepoint's id from tracefs, or -1 when this kernel does not have it.
long tracepoint_id(const std::string& tracefs, const std::string& category,
                   const std::string& name) {
    std::ifstream in(tracefs + "/events/" + category + "/" + name + "/id");
    long id = -1;
    if (!(in >> id)) return -1;
    return id;
}

// What is lost when an optional tracepoint is missing.
const char* without(const std::string& name) {
    if (name.rfind("sys_exit_accept", 0) == 0)
        return "sockets from accept() will have no opening path (kernel without "
               "CONFIG_FTRACE_SYSCALLS?)";
    if (name == "sched_process_exec")
        return "Python programs started while tracing will show native frames only";
    return "some events will be missing";
}

void resize(bpf_map* map, uint32_t entries) {
    if (entries) bpf_map__set_max_entries(map, entries);
}

// A program's variant suffix ("_probed", "_compat"), or "" for a direct one.
std::string_view suffix_of(std::string_view name) {
    for (ProgramVariant v : {ProgramVariant::Probed, ProgramVariant::Compat})
        if (name.ends_with(variant_suffix(v))) return variant_suffix(v);
    return "";
}

// Each program that reads kernel objects exists in three variants (see bpf/common.bpf.h): loads
// `variant`'s. The others are not loaded at all: a kernel refuses the object if one of them names
// what it lacks (a bpf_loop callback before 5.13), even in a program never attached.
void choose_programs(bpf_object* obj, ProgramVariant variant) {
    const std::string_view wanted = variant_suffix(variant);
    bpf_program* prog;
    bpf_object__for_each_program(prog, obj) {
        const std::string_view name = bpf_program__name(prog);
        const std::string_view suffix = suffix_of(name);
        const std::string base(name.substr(0, name.size() - suffix.size()));
        const bool twin =
            !suffix.empty() || bpf_object__find_program_by_name(obj, (base + "_probed").c_str());
        if (twin) bpf_program__set_autoload(prog, suffix == wanted);
    }
}

// The opener map's size: as set, or from what the host can hold and cwtrace's memory cgroup
// leaves (opener_capacity.h).
OpenerPlan plan_opener_map(const TracerConfig& config) {
    if (config.origin_entries) return {config.origin_entries, true, {}};
    const HostTcp host = read_host_tcp();
    const OpenerCapacity capacity = opener_capacity(host);
    spdlog::debug("opener map: {}", describe(capacity, host));
    OpenerPlan plan{capacity.entries, false, {}};
    if (capacity.cgroup_capped()) plan.warning = cgroup_cap_warning(capacity, *host.cgroup);
    return plan;
}

// One quick-leave ring per possible CPU (x86-64 only: bpf/cwtrace.bpf.c), of `slots` (0: as
// quick_ring_slots() gives).
void size_quick_rings(cwtrace_bpf& skel, uint32_t slots) {
#if defined(__x86_64__)
    const int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) return;  // none: every quick leave through the ring buffer
    slots = slots ? std::bit_floor(std::min<uint32_t>(slots, CW_QUICK_RING_MAX_SLOTS))
                  : quick_ring_slots(static_cast<uint32_t>(cpus));
    bpf_map__set_max_entries(skel.maps.quick_leaves, static_cast<uint32_t>(cpus));
    bpf_map__set_value_size(skel.maps.quick_leaves, static_cast<uint32_t>(quick_ring_bytes(slots)));
    skel.rodata->quick_slots = slots;
#else
    (void)skel;
    (void)slots;
#endif
}

// Where the programs keep openers, for `entries` of them: the opener table (bpf/openers.bpf.h)
// where they can (the programs with bpf_loop() on x86-64), else the `origins` hash map. The one
// not used is left at a single entry.
void size_openers(cwtrace_bpf& skel, ProgramVariant variant, uint32_t entries) {
#if defined(__x86_64__)
    if (variant != ProgramVariant::Compat) {
        const uint32_t buckets = opener_buckets(entries);
        bpf_map__set_max_entries(skel.maps.opener_table, buckets);
        bpf_map__set_max_entries(
            skel.maps.opener_window_use,
            (buckets + CW_OPENER_WINDOW_BUCKETS - 1) / CW_OPENER_WINDOW_BUCKETS);
        skel.rodata->opener_buckets = buckets;
        bpf_map__set_max_entries(skel.maps.origins, 1);
        return;
    }
#endif
    (void)variant;
    resize(skel.maps.origins, entries);
}

}  // namespace

Result<std::unique_ptr<Tracer>> Tracer::start(const TracerConfig& config, RecordHandler handler) {
    libbpf_set_print(libbpf_to_spdlog);
    // What the kernel has decides the programs, asked before any load (features.h).
    auto features = probe_kernel_features(config.btf_path);
    if (!features) return features.error();
    release = features->release;
    auto plan = plan_programs(*features, {config.probed_reads, config.no_bpf_loop});
    if (!plan) return plan.error();
    for (const std::string& warning : plan->warnings) spdlog::warn("{}", warning);
    const OpenerPlan opener = plan_opener_map(config);
    auto started = start_fitting(config, handler, *plan, opener);
    const ProgramVariant fallback = fallback_of(plan->variant);
    if (started || fallback == plan->variant || !is_verifier_refusal(started.error()))
        return started;
    // bpf_rdonly_cast() is in the kernel's BTF but refused here (a kernel that does not allow it
    // in tracepoint programs): the same programs reading through helper calls.
    spdlog::debug("{}: loading the {} programs instead", started.error().message,
                  variant_suffix(fallback));
    plan->variant = fallback;
    return start_fitting(config, handler, *plan, opener);
}

Result<std::unique_ptr<Tracer>> Tracer::start_fitting(const TracerConfig& config,
                                                      const RecordHandler& handler,
                                                      const ProgramPlan& plan,
                                                      const OpenerPlan& opener) {
    const std::vector<uint32_t> sizes =
        opener.set ? std::vector<uint32_t>{opener.entries} : opener_map_sizes(opener.entries);
    std::string refused;  // why the kernel refused the last size tried
    for (size_t i = 0;; ++i) {
        auto started = start(config, handler, plan, sizes[i]);
        if (started && sizes[i] < opener.entries)
            spdlog::warn("{}", opener_map_shrunk(opener.entries, sizes[i], refused));
        else if (started && !opener.warning.empty())
            spdlog::warn("{}", opener.warning);
        // Only the opener map's own refusal is worth a smaller one: another map refused (a ring
        // buffer set too large) is refused again whatever the opener map's size.
        if (started || i + 1 == sizes.size() || !opener_map_refused_memory(load_log))
            return started;
        refused = std::strerror(std::abs(load_log.error));
        spdlog::debug("opener map: {} entries refused ({})", thousands(sizes[i]), refused);
    }
}

Result<std::unique_ptr<Tracer>> Tracer::start(const TracerConfig& config,
                                              const RecordHandler& handler, const ProgramPlan& plan,
                                              uint32_t opener_entries) {
    std::unique_ptr<Tracer> tracer(new Tracer());
    tracer->handler_ = handler;
    tracer->plan_ = plan;
    load_log = {};

    LIBBPF_OPTS(bpf_object_open_opts, open_opts);
    if (!config.btf_path.empty()) open_opts.btf_custom_path = config.btf_path.c_str();
    tracer->skel_ = cwtrace_bpf__open_opts(&open_opts);
    if (!tracer->skel_) return load_error("open", errno);

    auto* skel = tracer->skel_;
    choose_programs(skel->obj, plan.variant);
    const size_t n = std::min<size_t>(config.pids.size(), CW_MAX_PID_FILTER);
    for (size_t i = 0; i < n; ++i) skel->rodata->filter_pids[i] = config.pids[i];
    skel->rodata->filter_pid_count = static_cast<uint32_t>(n);
    set_flow_filters(*skel, config);
    skel->rodata->closer_min_age_ns = config.closer_min_age_ns;
    skel->rodata->user_stack_mode = config.user_stack_mode;
    skel->rodata->user_stack_bytes = config.user_stack_bytes;
    size_openers(*skel, plan.variant, opener_entries);
    resize(skel->maps.close_wait_since, config.origin_entries);
    resize(skel->maps.stacks, config.stack_entries);
    resize(skel->maps.events, config.ringbuf_bytes);
    resize(skel->maps.stack_copies, config.copies_ringbuf_bytes);
    if (config.user_stack_mode != CW_USER_STACKS_DWARF) {
        // Unused without dwarf mode: the smallest sizes (the copy ring is resident memory).
        resize(skel->maps.unwind_memos, 1);
        resize(skel->maps.stack_copies, static_cast<uint32_t>(sysconf(_SC_PAGESIZE)));
    }
    if (config.user_stack_mode != CW_USER_STACKS_FP) resize(skel->maps.fp_memos, 1);

    size_quick_rings(*skel, config.quick_ring_slots);

    skel->rodata->events_bytes = bpf_map__max_entries(skel->maps.events);
    skel->rodata->stack_copies_bytes = bpf_map__max_entries(skel->maps.stack_copies);
    if (int err = cwtrace_bpf__load(skel)) return load_error("load", err);
    spdlog::debug("{}", describe(plan.variant));
    if (auto mapped = tracer->map_quick_rings(); !mapped) return mapped.error();
    if (auto mapped = tracer->map_opener_table(); !mapped) return mapped.error();
    if (auto attached = tracer->attach(config.tracefs); !attached) return attached.error();

    tracer->events_ =
        ring_buffer__new(bpf_map__fd(skel->maps.events), &Tracer::on_event, tracer.get(), nullptr);
    if (!tracer->events_) return load_error("ring buffer setup", errno);
    tracer->copies_ = ring_buffer__new(bpf_map__fd(skel->maps.stack_copies), &Tracer::on_stack_copy,
                                       tracer.get(), nullptr);
    if (!tracer->copies_) return load_error("ring buffer setup", errno);
    tracer->epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (tracer->epoll_fd_ < 0) return load_error("ring buffer setup", errno);
    for (ring_buffer* rb : {tracer->events_, tracer->copies_}) {
        epoll_event ev = {};
        ev.events = EPOLLIN;
        if (epoll_ctl(tracer->epoll_fd_, EPOLL_CTL_ADD, ring_buffer__epoll_fd(rb), &ev))
            return load_error("ring buffer setup", errno);
    }
    return tracer;
}

Result<void> Tracer::map_quick_rings() {
    const uint32_t slots = skel_->rodata->quick_slots;
    if (!slots) return Ok{};
    const uint32_t rings = bpf_map__max_entries(skel_->maps.quick_leaves);
    const size_t bytes = rings * quick_ring_bytes(slots);
    void* area = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
                      bpf_map__fd(skel_->maps.quick_leaves), 0);
    if (area == MAP_FAILED) return load_error("quick-leave rings setup", errno);
    quick_area_ = area;
    quick_area_bytes_ = bytes;
    quick_.emplace(std::span(static_cast<std::byte*>(area), bytes), rings, slots);
    return Ok{};
}

Result<void> Tracer::map_opener_table() {
    const uint32_t buckets = skel_->rodata->opener_buckets;
    if (!buckets) return Ok{};
    // Once now, so that a table that cannot be read says so at start, not in a report.
    const size_t bytes =
        size_t{std::min<uint32_t>(buckets, CW_OPENER_WINDOW_BUCKETS)} * sizeof(cw_opener_bucket);
    void* area =
        mmap(nullptr, bytes, PROT_READ, MAP_SHARED, bpf_map__fd(skel_->maps.opener_table), 0);
    if (area == MAP_FAILED) return load_error("opener table setup", errno);
    munmap(area, bytes);
    opener_buckets_ = buckets;
    return Ok{};
}

bool Tracer::read_opener_table(const std::function<bool(const OpenerTable&)>& each) const {
    const int fd = bpf_map__fd(skel_->maps.opener_table);
    const int ncpus = libbpf_num_possible_cpus();
    std::vector<int64_t> use(ncpus > 0 ? ncpus : 1);
    for (uint32_t first = 0; first < opener_buckets_; first += CW_OPENER_WINDOW_BUCKETS) {
        // A window whose entries the programs counted out as often as in holds none: not mapped
        // (mapping one costs its pages' page-table entries, 1,024 of them). Once tracing has
        // ended, every window is read: the final report trusts no count.
        const uint32_t window = first / CW_OPENER_WINDOW_BUCKETS;
        if (events_ &&
            bpf_map__lookup_elem(skel_->maps.opener_window_use, &window, sizeof window, use.data(),
                                 use.size() * sizeof(int64_t), 0) == 0 &&
            std::accumulate(use.begin(), use.end(), int64_t{0}) <= 0)
            continue;
        const uint32_t buckets =
            std::min<uint32_t>(CW_OPENER_WINDOW_BUCKETS, opener_buckets_ - first);
        const size_t bytes = size_t{buckets} * sizeof(cw_opener_bucket);
        // A window starts on a page: 4 MiB windows of 1 KiB buckets.
        const off_t offset = off_t(first) * off_t(sizeof(cw_opener_bucket));
        void* area = mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, offset);
        if (area == MAP_FAILED) {
            spdlog::debug("mapping the opener table at {}: {}", offset, std::strerror(errno));
            return false;
        }
        const bool more =
            each(OpenerTable(std::span(static_cast<const std::byte*>(area), bytes), buckets));
        munmap(area, bytes);
        if (!more) break;
    }
    return true;
}

// Attached the way libbpf would (a perf event per tracepoint, cpu 0, any pid; a raw tracepoint
// by name), but each looked up in `tracefs` first, so that a missing tracepoint is named and an
// optional one only warns.
Result<void> Tracer::attach(const std::string& tracefs) {
    bpf_program* prog;
    bpf_object__for_each_program(prog, skel_->obj) {
        if (!bpf_program__autoload(prog)) continue;  // the twin of a loaded one
        const auto [category, name, raw] = tracepoint_of(prog);
        if (name.empty())
            return Error{
                std::string("BPF program ") + bpf_program__name(prog) + " is not on a tracepoint",
                "a build error: rebuild cwtrace"};
        const long id = tracepoint_id(tracefs, category, name);
        if (id < 0) {
            if (name == "inet_sock_set_state")
                return Error{"kernel tracepoint " + category + ":" + name + " not found (no " +
                                 tracefs + "/events/" + category + "/" + name + "/id)",
                             "cwtrace needs Linux 4.16 or later built with it; ls " + tracefs +
                                 "/events/" + category + " shows what this kernel has"};
            spdlog::warn("kernel tracepoint {}:{} not found: {}", category, name, without(name));
            continue;
        }
        if (raw) {
            bpf_link* link = bpf_program__attach_raw_tracepoint(prog, name.c_str());
            if (!link) return load_error("attach", errno);
            links_.push_back(link);
            continue;
        }
        perf_event_attr attr = {};
        attr.type = PERF_TYPE_TRACEPOINT;
        attr.size = sizeof(attr);
        attr.config = static_cast<uint64_t>(id);
        const int fd =
            static_cast<int>(syscall(__NR_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC));
        if (fd < 0) return load_error("attach", errno);
        bpf_link* link = bpf_program__attach_perf_event(prog, fd);
        if (!link) {
            const int err = errno;
            close(fd);
            return load_error("attach", err);
        }
        links_.push_back(link);  // the link owns fd now
    }
    return Ok{};
}

Tracer::~Tracer() {
    free_rings();
    detach();
    cwtrace_bpf__destroy(skel_);  // closes every map
}

void Tracer::detach() {
    // Detaching a tracepoint waits for an RCU grace period: detached at once, on threads, the
    // links' waits overlap instead of adding up at exit.
    std::vector<std::thread> detaching;
    for (bpf_link* link : links_) {
        try {
            detaching.emplace_back([link] { bpf_link__destroy(link); });
        } catch (const std::system_error&) {
            bpf_link__destroy(link);  // no thread to be had: here, in turn
        }
    }
    for (std::thread& t : detaching) t.join();
    links_.clear();
}

void Tracer::finish() {
    if (!events_) return;
    // detach() returns after the programs' last runs (a grace period): all they sent is in the
    // rings now.
    detach();
    take_quick_leaves(UINT64_MAX);
    ring_buffer__consume(events_);
    deliver_quick_until(UINT64_MAX);
    deliver_copies_until(UINT64_MAX);
    if (quick_) {
        spdlog::debug("quick leaves: {} read from the rings ({} CPUs x {} slots)",
                      thousands(quick_->handed()), quick_->rings(), quick_->slots());
        if (quick_->corrupt())
            spdlog::warn(
                "quick-leave rings: {} found overwritten by something else, their "
                "records skipped",
                quick_->corrupt());
    }
    free_rings();
}

void Tracer::free_rings() {
    ring_buffer__free(copies_);
    ring_buffer__free(events_);
    copies_ = events_ = nullptr;
    if (epoll_fd_ >= 0) close(epoll_fd_);
    epoll_fd_ = -1;
    quick_.reset();
    if (quick_area_) munmap(quick_area_, quick_area_bytes_);
    quick_area_ = nullptr;
}

namespace {

// The kernel's send time of a record (every record starts with a cw_event_header); 0 if short.
uint64_t sent_ns(const void* data, size_t size) {
    cw_event_header hdr;
    if (size < sizeof hdr) return 0;
    std::memcpy(&hdr, data, sizeof hdr);
    return hdr.ts_ns;
}

// A record reserved on another CPU can be committed this long after a later one.
constexpr uint64_t kCommitSkewNs = 1'000'000;
// A copy held for that skew is handed on this soon: its unwind memo spares later copies.
constexpr int kHeldCopyWaitMs = 1;  // the skew: it is due by then
// The kernel wakes the reader for no quick leave: with a quick ring a quarter full at the last
// read, the next comes this soon, before it fills and its records take the ring buffer.
constexpr int kBusyQuickRingWaitMs = 10;

}  // namespace

int Tracer::on_event(void* self, void* data, size_t size) {
    auto* tracer = static_cast<Tracer*>(self);
    // The quick leaves sent before it, read now: a leave of one socket is followed, at least
    // microseconds later, by what a later socket at the same address sends (its stack copy
    // among them), which must not be handed on ahead of it.
    tracer->take_quick_leaves(sent_ns(data, size));
    tracer->deliver_quick_until(sent_ns(data, size));
    tracer->deliver_copies_until(sent_ns(data, size));
    tracer->handler_({static_cast<const std::byte*>(data), size});
    return 0;
}

void Tracer::take_quick_leaves(uint64_t until_ns) {
    if (!quick_) return;
    const size_t before = quick_pending_.size();
    quick_->consume(until_ns, [this](std::span<const std::byte> record) {
        cw_event_leave_quick leave;
        std::memcpy(&leave, record.data(), sizeof leave);
        quick_pending_.push_back(leave);
    });
    // Each ring is in its CPU's order; together, in the order they were sent.
    auto sent_before = [](const cw_event_leave_quick& a, const cw_event_leave_quick& b) {
        return a.hdr.ts_ns < b.hdr.ts_ns;
    };
    const auto read = quick_pending_.begin() + static_cast<std::ptrdiff_t>(before);
    std::stable_sort(read, quick_pending_.end(), sent_before);
    std::inplace_merge(quick_pending_.begin(), read, quick_pending_.end(), sent_before);
}

void Tracer::deliver_quick_until(uint64_t ts_ns) {
    if (quick_pending_.empty() || quick_pending_.front().hdr.ts_ns > ts_ns) return;
    const auto due = std::find_if(quick_pending_.begin(), quick_pending_.end(),
                                  [ts_ns](const auto& leave) { return leave.hdr.ts_ns > ts_ns; });
    // Taken out before any is handed on, so that none goes twice whatever the handler does.
    const std::vector<cw_event_leave_quick> leaves(quick_pending_.begin(), due);
    quick_pending_.erase(quick_pending_.begin(), due);
    for (const cw_event_leave_quick& leave : leaves) {
        // Its socket's stack copy, sent at its opening, before it.
        deliver_copies_until(leave.hdr.ts_ns);
        handler_({reinterpret_cast<const std::byte*>(&leave), sizeof leave});
    }
}

// libbpf has no peek: a copy sent after the bound is consumed, held, and handed on later.
int Tracer::on_stack_copy(void* self, void* data, size_t size) {
    auto* tracer = static_cast<Tracer*>(self);
    const auto* bytes = static_cast<const std::byte*>(data);
    if (sent_ns(data, size) > tracer->copies_until_ns_) {
        tracer->held_copy_.assign(bytes, bytes + size);
        return -1;  // stop here
    }
    tracer->handler_({bytes, size});
    return 0;
}

void Tracer::deliver_copies_until(uint64_t ts_ns) {
    if (!held_copy_.empty()) {
        if (sent_ns(held_copy_.data(), held_copy_.size()) > ts_ns) return;
        std::vector<std::byte> copy;
        copy.swap(held_copy_);
        handler_(copy);
    }
    copies_until_ns_ = ts_ns;
    ring_buffer__consume(copies_);  // stops at (and holds) the first copy past the bound
}

int Tracer::drain(int timeout_ms) {
    if (!events_) return 0;  // finished
    epoll_event ready[2];
    if (!held_copy_.empty()) timeout_ms = std::min(timeout_ms, kHeldCopyWaitMs);
    if (quick_busy_) timeout_ms = std::min(timeout_ms, kBusyQuickRingWaitMs);
    int woken = epoll_wait(epoll_fd_, ready, 2, timeout_ms);
    if (woken < 0 && errno != EINTR) return -errno;
    // A moment every record sent before has surely been committed by. The quick leaves sent up
    // to it are read first, so that none is handed on ahead of an earlier record of its socket
    // still on its way through the ring buffer, then handed on in the order they were sent among
    // the records read below and the copies.
    const uint64_t committed_ns = monotonic_ns() - kCommitSkewNs;
    take_quick_leaves(committed_ns);
    // Judged at this read, not at the later ones before each record (a ring they find nearly
    // empty may fill by the next drain all the same).
    quick_busy_ = quick_ && quick_->fullest() > quick_->slots() / 4;
    const size_t quick = quick_pending_.size();
    int consumed = ring_buffer__consume(events_);
    if (consumed < 0) return consumed;
    deliver_quick_until(committed_ns);
    // Copies of openings whose events have not come (yet, or ever) go too, up to that moment
    // (not a later one: a copy of a later opening at the same address must come after the quick
    // leave of the earlier socket, read after that moment).
    deliver_copies_until(committed_ns);
    return consumed + static_cast<int>(quick);
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
        if (!bpf_program__autoload(prog)) continue;
        bpf_prog_info info = {};
        uint32_t len = sizeof info;
        if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) == 0)
            out.recursion_misses += info.recursion_misses;
    }
    return out;
}

uint32_t Tracer::opener_entries() const {
    if (opener_buckets_)
        return static_cast<uint32_t>(
            std::min<uint64_t>(uint64_t{opener_buckets_} * CW_OPENER_WAYS, UINT32_MAX));
    return bpf_map__max_entries(skel_->maps.origins);
}

StackMaps Tracer::stack_maps() const {
    return {bpf_map__fd(skel_->maps.stacks), bpf_map__fd(skel_->maps.kernel_paths),
            bpf_map__max_entries(skel_->maps.stacks), &skel_->bss->stack_generation,
            &skel_->bss->stack_generation_ns};
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

namespace {

// Registers a process of a runtime the kernel side reads (its `procs` map) and raises the flag
// that makes openings look that map up from now on. False if the map is full.
template <typename Entry>
bool register_process(bpf_map* procs, uint32_t& known, uint32_t pid, const Entry& entry) {
    if (bpf_map__update_elem(procs, &pid, sizeof pid, &entry, sizeof entry, BPF_ANY)) return false;
    known = 1;
    return true;
}

// The value `map` holds under `key`, or nullopt.
template <typename Value, typename Key>
std::optional<Value> lookup(const bpf_map* map, const Key& key) {
    Value value;
    if (bpf_map__lookup_elem(map, &key, sizeof key, &value, sizeof value, 0)) return std::nullopt;
    return value;
}

}  // namespace

bool Tracer::set_python_process(uint32_t pid, const cw_python_proc& entry) {
    return register_process(skel_->maps.python_procs, skel_->bss->python_procs_known, pid, entry);
}

void Tracer::set_unwind_memo(const cw_unwind_memo_key& key, const cw_unwind_memo& memo) {
    // A failure costs only copies: the next opening of this path sends one again.
    if (bpf_map__update_elem(skel_->maps.unwind_memos, &key, sizeof key, &memo, sizeof memo,
                             BPF_ANY))
        spdlog::debug("unwind memo not stored: {}", std::strerror(errno));
}

void Tracer::forget_python_process(uint32_t pid) {
    bpf_map__delete_elem(skel_->maps.python_procs, &pid, sizeof pid, 0);
}

bool Tracer::set_go_process(uint32_t pid, const cw_go_proc& entry) {
    return register_process(skel_->maps.go_procs, skel_->bss->go_procs_known, pid, entry);
}

void Tracer::forget_go_process(uint32_t pid) {
    bpf_map__delete_elem(skel_->maps.go_procs, &pid, sizeof pid, 0);
}

std::optional<cw_go_creator> Tracer::go_creator(uint64_t creator_id) const {
    return lookup<cw_go_creator>(skel_->maps.go_creators, creator_id);
}

std::optional<cw_py_stack> Tracer::python_stack(uint64_t stack_id) const {
    return lookup<cw_py_stack>(skel_->maps.py_stacks, stack_id);
}

bool Tracer::for_each_close_wait(const OpenerVisit& visit, const std::function<bool()>& stop,
                                 const OpenerTable::Ahead& ahead) const {
    return for_each_opener(
        [&](uint64_t sk, const cw_origin_entry& e) {
            // Set last by the kernel: with it but no flow, the entry was read as it was written;
            // the next read sees it whole.
            if (e.close_wait_since && e.flow.family) visit(sk, e);
        },
        stop, ahead);
}

bool Tracer::for_each_opener(const OpenerVisit& visit, const std::function<bool()>& stop,
                             const OpenerTable::Ahead& ahead) const {
    if (opener_buckets_) {
        // Once tracing has ended, how full the table is, counted in the same read (its own read
        // of a table of hundreds of MB cost a tenth of a second of the report after SIGINT).
        const bool census = !events_ && spdlog::should_log(spdlog::level::debug);
        OpenerTable::Census held;
        const bool ok = read_opener_table([&](const OpenerTable& window) {
            window.for_each(visit, ahead);
            if (census) {
                const OpenerTable::Census part = window.census();
                held.entries += part.entries;
                held.spilled += part.spilled;
            }
            return !(stop && stop());
        });
        if (census && ok)
            spdlog::debug(
                "opener table: {} of {} entries in use, {} of them in their second bucket",
                thousands(held.entries), thousands(opener_entries()), thousands(held.spilled));
        return ok;
    }
    // In batches, a few hundred kB whatever the map holds; a batch ends at a bucket's end.
    constexpr uint32_t kBatch = 4096;
    const int fd = bpf_map__fd(skel_->maps.origins);
    std::vector<uint64_t> keys(kBatch);
    std::vector<cw_origin_entry> entries(kBatch);
    uint64_t in = 0, out = 0;
    for (bool first = true;; first = false) {
        uint32_t count = kBatch;
        const int err = bpf_map_lookup_batch(fd, first ? nullptr : &in, &out, keys.data(),
                                             entries.data(), &count, nullptr);
        const int error = err ? errno : 0;
        for (uint32_t i = 0; i < count; ++i) visit(keys[i], entries[i]);
        if (error == ENOENT) return true;  // the end of the map
        if (error) {
            spdlog::debug("reading the opener map: {}", std::strerror(error));
            return false;
        }
        if (stop && stop()) return true;
        in = out;
    }
}

}  // namespace cwtrace
