#include "app/session.h"

#include <malloc.h>
#include <spdlog/spdlog.h>
#include <spdlog/stopwatch.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <future>
#include <set>
#include <unordered_set>

#include "app/presentation.h"
#include "kernel/counters.h"
#include "metrics/metrics.h"
#include "owners/owners.h"
#include "render/render.h"
#include "sockets/close_wait_scan.h"
#include "util/clock.h"
#include "util/untrusted_file.h"

namespace cwtrace {
namespace {

constexpr uint64_t kStartReuseNs = 10'000'000'000;  // how long the start's facts stand
// How often the stack map's entries are counted when no stack is being lost.
constexpr uint64_t kStackCensusNs = 10'000'000'000;

// CPU time of the calling thread, in seconds: beside the wall time of a read made while a
// burst takes the CPUs, it tells waiting from working.
double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

Session::Session(const Options& options, const EnvConfig& env)
    : options_(options),
      env_(env),
      stacks_(
          [this](int32_t id) { return tracer_ ? tracer_->stack(id) : std::vector<uint64_t>{}; }),
      owners_(env.proc_owners, env.host_root),
      builder_(stacks_, owners_),
      closes_(static_cast<uint64_t>(options.min_age.count()), options.pids,
              [this](const cw_origin& thread) { return stacks_.resolve_thread(thread); }),
      close_filter_(options.filter) {
    // Checked when the command line was parsed.
    if (auto own = OwnCode::with_patterns(options.own_patterns)) stacks_.set_own_code(*own);
    stacks_.set_python_frames(
        [this](const cw_origin& o) { return python_.frames(o, python_stack_read()); });
    stacks_.set_go_creators([this](const cw_origin& o) {
        return tracer_ ? tracer_->go_creator(o.go_creator_id) : std::optional<cw_go_creator>{};
    });
    closes_.set_unwound_openers(
        [this](const cw_origin& o, uint64_t sk) -> int64_t {
            auto id = stacks_.unwound_stack(sk, o);
            return id ? int64_t{*id} : -1;
        },
        [this](const cw_origin& o, uint32_t id) { return stacks_.resolve_thread(o, id); });
}

// A long phase (the start-up, a report) tells its progress while `progress` lives.
class Session::Progress {
  public:
    Progress(ProgressLine* line, OwnerFinder& owners, const char* title)
        : line_(line), owners_(owners) {
        if (!line_) return;
        line_->begin(title, monotonic_ns());
        owners_.set_progress(line_->part("owners"));
    }
    ~Progress() {
        if (!line_) return;
        owners_.set_progress({});
        line_->end();
    }
    ProgressFn part(const char* name, const char* noun = "") const {
        return line_ ? line_->part(name, noun) : ProgressFn{};
    }

  private:
    ProgressLine* line_;
    OwnerFinder& owners_;
};

Result<void> Session::start(const std::string& tracefs) {
    const Progress progress(progress_, owners_, "start");
    TracerConfig config;
    config.tracefs = tracefs;
    for (pid_t pid : options_.pids) config.pids.push_back(static_cast<uint32_t>(pid));
    config.ports = options_.filter.ports;
    config.local_ports = options_.filter.local_ports;
    config.remote_ports = options_.filter.remote_ports;
    config.remotes = options_.filter.remotes;
    config.btf_path = options_.btf_path;
    config.origin_entries = env_.origin_map_entries;
    config.stack_entries = env_.stack_map_entries;
    config.ringbuf_bytes = env_.ringbuf_bytes;
    config.copies_ringbuf_bytes = env_.copy_ringbuf_bytes;
    config.quick_ring_slots = env_.quick_ring_slots;
    config.probed_reads = env_.probed_reads;
    config.no_bpf_loop = env_.no_bpf_loop;
    config.closer_min_age_ns = static_cast<uint64_t>(options_.min_age.count());
    config.user_stack_mode =
        options_.user_stacks == UserStacks::Dwarf ? CW_USER_STACKS_DWARF : CW_USER_STACKS_FP;
    config.user_stack_bytes = options_.user_stack_bytes;
    auto tracer = Tracer::start(config, [this](std::span<const std::byte> r) { on_record(r); });
    if (!tracer) return tracer.error();
    tracer_ = std::move(*tracer);
    if (!tracer_->plan().fd_walk) owners_.use_proc();  // the walk needs bpf_loop
    if (tracer_->plan().variant == ProgramVariant::Direct) owners_.use_direct_reads();
    if (config.user_stack_mode == CW_USER_STACKS_DWARF)
        stacks_.set_memo_publisher(
            [this](const KernelUnwindMemo& m) { tracer_->set_unwind_memo(m.key, m.memo); },
            config.user_stack_bytes);
    started_ns_ = monotonic_ns();
    // Looking at every process for a runtime is independent of the dump and the walk: beside
    // them, it adds nothing to the start-up.
    auto runtimes = std::async(std::launch::async, [this] { watch_running_processes(); });
    backfill(progress.part("dumped", "sockets"));
    runtimes.get();
    // The dump's and the walk's buffers are freed: their pages go back to the system.
    malloc_trim(0);
    return Ok{};
}

// The processes already running, each registered if its runtime is one the kernel side reads
// (CPython, Go); later ones are seen at exec().
void Session::watch_running_processes() {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        watch_runtimes(static_cast<uint32_t>(std::stoul(name)));
    }
    if (python_.processes())
        spdlog::debug("{} processes looked at for Python", python_.processes());
}

// A process whose runtime the kernel side can read (CPython, Go) is registered with it.
void Session::watch_runtimes(uint32_t pid) {
    if (!options_.pids.empty() && std::find(options_.pids.begin(), options_.pids.end(),
                                            static_cast<pid_t>(pid)) == options_.pids.end())
        return;
    // One read of the process's mappings serves both runtimes' looks, taken between two reads
    // of its start time so that a pid reused meanwhile is not taken for the process.
    const auto id = static_cast<pid_t>(pid);
    const uint64_t start = read_start_ticks(id);
    if (start == 0) return;
    const auto maps = ProcessMaps::read(id);
    if (!maps || read_start_ticks(id) != start) return;
    watch_python(pid, start, *maps);
    watch_go(pid, start, *maps);
}

void Session::watch_python(uint32_t pid, uint64_t start, const ProcessMaps& maps) {
    if (auto entry = python_.inspect(static_cast<pid_t>(pid), start, maps)) {
        if (tracer_->set_python_process(pid, *entry))
            python_watched_[pid] = start;
        else
            spdlog::warn("pid {}: cannot watch its Python frames (map full)", pid);
    }
}

void Session::watch_go(uint32_t pid, uint64_t start, const ProcessMaps& maps) {
    if (auto entry = go_.inspect(static_cast<pid_t>(pid), start, maps)) {
        if (tracer_->set_go_process(pid, *entry))
            go_watched_[pid] = entry->start_ticks;
        else
            spdlog::warn("pid {}: cannot watch its goroutines (map full)", pid);
    }
}

PythonTracker::StackRead Session::python_stack_read() {
    return [this](uint64_t id) {
        return tracer_ ? tracer_->python_stack(id) : std::optional<cw_py_stack>{};
    };
}

// After attaching, so that no socket falls between the dump and the trace; one seen by both
// is reconciled by its flow in the table.
void Session::backfill(const ProgressFn& dumped) {
    spdlog::stopwatch watch;
    size_t seen = 0, added = 0;
    StartSnapshot start = snapshot_at_start(owners_, [&](const DiagSocket& d) -> uint64_t {
        if (++seen % 4096 == 0 && dumped) dumped(seen, 0);
        const cw_flow flow = flow_of(d);
        if (!options_.filter.flow_selected(flow)) return 0;  // no owner looked for either
        if (!table_.add_before_start(flow, d.inode, started_ns_)) return 0;
        ++added;
        return table_.last_key();
    });
    if (added) spdlog::info("{} sockets were already in CLOSE_WAIT", added);
    spdlog::debug("start: sock_diag dump, owners and table in {:.3f} s", watch);
    if (added) start_ = std::move(start);
}

// With --pid the kernel follows only sockets the selected processes opened while tracing.
// Their other sockets in CLOSE_WAIT (opened before, or handed over by another process) are
// found here through sock_diag, and the ones found earlier that have closed are dropped.
void Session::follow_untraced(uint64_t now_ns, const std::vector<DumpedSocket>& dump) {
    std::unordered_set<uint64_t> held;
    for (pid_t pid : options_.pids) held.merge(socket_inodes_of(pid));
    for (const DumpedSocket& d : dump)
        if (d.inode && held.count(d.inode)) add_untraced(d.flow, d.inode, now_ns);
}

// After a lost event, the dumped sockets the table does not know: a million flows joined at once.
void Session::add_unknown(uint64_t now_ns, const std::vector<DumpedSocket>& dump,
                          const SortedFlows& flows, const TrackedFlows& tracked) {
    for (size_t at : unknown_flows(flows, tracked))
        add_untraced(dump[at].flow, dump[at].inode, now_ns);
}

// A socket sock_diag found in CLOSE_WAIT, unless its ports or address are filtered out (as the
// kernel filters the sockets it notes).
void Session::add_untraced(const cw_flow& flow, uint64_t inode, uint64_t now_ns) {
    if (options_.filter.flow_selected(flow)) table_.add_untraced(flow, inode, now_ns);
}

// A CLOSE_WAIT event the kernel could not deliver (ring buffer full, a skipped program run)
// leaves its socket out of the table: once that has happened, each report looks for such
// sockets through sock_diag and adds them as found then.
bool Session::events_lost() const {
    const KernelCounters k = tracer_->counters();
    return k.counter[CW_CNT_RINGBUF_FULL] || k.recursion_misses;
}

// Takes into `dumped` the dump under way (`pending`), or a new one when it needs one and none was
// under way: the report's facts come from it too (one dump, not two).
void Session::reconcile(uint64_t now_ns, std::future<std::vector<DumpedSocket>>& pending,
                        std::optional<std::vector<DumpedSocket>>& dumped) {
    const bool lost = events_lost() || map_unreadable_;
    // The table's half of the join after a loss, taken while the dump runs on its thread (in
    // front of a million sockets, the main thread waits a second for it here).
    std::optional<TrackedFlows> tracked;
    if (pending.valid() && options_.pids.empty() && lost) tracked = table_.tracked_flows();
    if (pending.valid()) dumped = pending.get();
    if (options_.pids.empty() && !lost) return;
    spdlog::stopwatch watch;
    if (!dumped) dumped = close_wait_now(table_.size());
    const std::vector<DumpedSocket>& dump = *dumped;
    spdlog::debug("reconcile: {} sockets in CLOSE_WAIT dumped at {:.3f} s", dump.size(), watch);
    std::vector<cw_flow> flows;
    flows.reserve(dump.size());
    for (const DumpedSocket& d : dump) flows.push_back(d.flow);
    const SortedFlows present(std::move(flows));
    if (!options_.pids.empty())
        follow_untraced(now_ns, dump);
    else
        add_unknown(now_ns, dump, present, tracked ? *tracked : table_.tracked_flows());
    // A lost record may have been a leave: its socket, closed, would stay for ever. The sockets
    // that may go are looked for in the dump: the untraced ones, and after a loss those the
    // kernel's map did not list (a few, where the dump lists a million).
    if (!options_.pids.empty()) table_.drop_untraced_missing(present);
    if (lost && !map_unreadable_) {
        if (size_t n = table_.drop_missing(present))
            spdlog::debug("{} sockets no longer in CLOSE_WAIT (their leave records lost) dropped",
                          n);
    }
    spdlog::debug("reconcile: the table reconciled with the dump at {:.3f} s", watch);
}

// The sockets the kernel noted in CLOSE_WAIT in its map instead of sending a record (their
// openers known): into the table, as those records would have put them.
void Session::collect_close_wait(const std::function<bool()>& stop) {
    if (!tracer_) return;
    spdlog::stopwatch watch;
    const double cpu = thread_cpu_seconds();
    size_t read = 0, added = 0;
    table_.begin_map_read();
    const bool ok = tracer_->for_each_close_wait(
        [&](uint64_t sk, const cw_origin_entry& entry) {
            ++read;
            const TrackedSocket* known = table_.note_in_map(sk);
            // Known as is, unless accept() named its opener in a record that was lost.
            if (known && known->close_wait_since_ns == entry.close_wait_since && known->origin)
                return;
            cw_origin_entry vetted = entry;
            vet_stacks(vetted.origin, vetted.origin.opened_ns);
            apply(enter_of(sk, vetted));
            table_.note_in_map(sk);
            ++added;
        },
        stop, [this](uint64_t sk) { table_.prefetch(sk); });
    if (stop && stop()) {
        spdlog::debug("read of the kernel's map stopped after {} sockets ({} new): tracing ends",
                      read, added);
        return;
    }
    spdlog::debug(
        "{} sockets in CLOSE_WAIT read from the kernel's map ({} new) in {:.3f} s ({:.3f} s of "
        "CPU)",
        read, added, watch, thread_cpu_seconds() - cpu);
    if (!ok && !map_unreadable_) {
        spdlog::warn(
            "cannot read the kernel's map of sockets in CLOSE_WAIT (--verbose says why): "
            "reports find them through sock_diag, without who opened them");
        map_unreadable_ = true;
    }
}

// Whether the start's facts and owners serve a report now: soon after start, of the sockets
// found then only, no event lost.
bool Session::start_serves(uint64_t now_ns) const {
    return start_ && options_.pids.empty() && !events_lost() &&
           usable_for(*start_, table_, now_ns, kStartReuseNs);
}

// Once tracing has ended, every socket a report can show is in CLOSE_WAIT already: the kernel's
// dump and the walk of the file tables need not wait for the table (in front of a million
// sockets, seconds each), and run beside the rest of the report's making.
Session::Scans Session::start_scans() {
    Scans scans;
    scans.dump = std::async(std::launch::async,
                            [expected = table_.size()] { return close_wait_now(expected); });
    scans.held = std::async(std::launch::async,
                            [this] { return owners_.walk([](uint64_t) { return true; }); });
    return scans;
}

// The report of the sockets in CLOSE_WAIT now, after the table is reconciled with the kernel.
Report Session::build(uint64_t now_ns) {
    const Progress progress(progress_, owners_, "report");
    // Beside the read of the kernel's map; when the start's facts may serve (a report soon after
    // start), after it, if they do not. None for an empty table (a quiet host).
    Scans scans;
    const bool start_fresh = start_ && now_ns - start_->taken_ns <= kStartReuseNs;
    if (tracing_ended_ && !start_fresh && table_.size()) scans = start_scans();
    collect_close_wait();
    if (tracing_ended_ && !scans.dump.valid() && table_.size() && !start_serves(now_ns))
        scans = start_scans();
    std::optional<std::vector<DumpedSocket>> dumped;
    reconcile(now_ns, scans.dump, dumped);
    std::optional<HeldSockets> held;
    if (scans.held.valid()) held = scans.held.get();
    // A report soon after start, of the sockets found then only (and no event lost), uses
    // their facts and owners from then: in front of a pile-up, one dump and one /proc pass.
    const bool reuse = start_serves(now_ns);
    std::optional<StartSnapshot> start = std::move(start_);
    start_.reset();
    if (!reuse) start.reset();
    ReportInput input;
    input.now_ns = now_ns;
    input.min_age_ns = static_cast<uint64_t>(options_.min_age.count());
    input.tracing_seconds = static_cast<double>(now_ns - started_ns_) / 1e9;
    input.pid_filter = options_.pids;
    input.filter = options_.filter;
    input.stats = stats();
    input.progress = progress.part("sockets");
    input.dumped = dumped ? &*dumped : nullptr;
    input.held = held ? &*held : nullptr;
    Report report = builder_.build(table_, input, reuse ? &*start : nullptr);
    // The build symbolizes: the files it was refused count in this report.
    report.stats.files_refused = untrusted_file_stats().by_cause();
    return report;
}

void Session::finish_tracing() {
    spdlog::stopwatch watch;
    const uint64_t records = records_;
    tracer_->finish();
    tracing_ended_ = true;
    spdlog::debug("tracing ended: programs detached, {} last records read in {:.3f} s",
                  records_ - records, watch);
}

void Session::stop() {
    spdlog::stopwatch watch;
    tracer_.reset();
    owners_.unload();
    spdlog::debug("programs and maps closed in {:.3f} s", watch);
}

void Session::drain(int timeout_ms) {
    int n = tracer_->drain(timeout_ms);
    if (n < 0) spdlog::debug("ring buffer: {}", std::strerror(-n));
}

bool Session::write(uint64_t now_ns, Format format, FILE* out, bool last) {
    const bool ok = write(
        now_ns, format,
        [out](std::string_view piece) {
            return std::fwrite(piece.data(), 1, piece.size(), out) == piece.size();
        },
        last, out);
    return ok && std::fflush(out) == 0;
}

bool Session::write(uint64_t now_ns, Format format, const Sink& sink, bool last,
                    std::FILE* stream) {
    if (spdlog::should_log(spdlog::level::debug)) {  // the kernel's counters: syscalls
        const UnwindStats& u = stacks_.unwind_stats();
        const KernelCounters k = tracer_->counters();
        spdlog::debug(
            "dwarf unwinding: {} unwinds, {} memoized, {} failed; {} memos given to the "
            "kernel, {} openings matched there (no copy)",
            u.unwinds, u.memo_hits, u.failures, stacks_.memos_published(),
            k.counter[CW_CNT_UNWIND_MEMO_HITS]);
        spdlog::debug(
            "frame-pointer memo: {} openings matched, {} walked; of the matched, {} searched "
            "for their caller again",
            k.counter[CW_CNT_FP_MEMO_HITS], k.counter[CW_CNT_FP_MEMO_MISSES],
            k.counter[CW_CNT_FP_MEMO_CALLER_SEARCHES]);
        spdlog::debug("stack copies lost: {} (dwarf mode: their ring buffer was full)",
                      k.counter[CW_CNT_USER_STACK_COPY_LOST]);
    }
    Report report = build(now_ns);
    report.late_closes = closes_.late_closes();
    report.close_wait_durations = closes_.durations();
    ReportContext context = ReportContext::here();
    context.weight = options_.weight;
    set_presentation(context, options_, stream);
    spdlog::stopwatch watch;
    size_t bytes = 0;
    const bool ok = cwtrace::render(report, format, context, [&](std::string_view piece) {
        bytes += piece.size();
        return sink(piece);
    });
    spdlog::debug("report: {} bytes written as {} in {:.3f} s", bytes, to_string(format), watch);
    if (last) last_report_ = std::make_unique<Report>(std::move(report));
    return ok;
}

// Continuous mode: the same report, counted for Prometheus. Stacks are symbolized once and
// cached by the stack resolver, so this costs a /proc and sock_diag pass, not a symbolization.
std::string Session::metrics(uint64_t now_ns) {
    return render_metrics(
        make_snapshot(build(now_ns), left_close_wait_, options_.metrics_top, CWTRACE_VERSION));
}

// What was cached to symbolize exited processes is dropped once nothing names them: pending
// closes are folded (symbolized) first, and tracked sockets keep their openers'.
void Session::forget_exited() {
    collect_close_wait();  // their openers' processes are kept
    closes_.fold();
    std::set<StackResolver::ProcessKey> keep;
    table_.for_each([&](const TrackedSocket& s) {
        if (s.origin) keep.insert({s.origin->pid, s.origin->task_start_ns});
    });
    if (size_t n = stacks_.forget_exited(keep))
        spdlog::debug("forgot {} exited processes ({} still known)", n, stacks_.processes_known());
    // Python processes that exited leave the kernel's watch list, which has room for 4096.
    std::erase_if(python_watched_, [&](const auto& watched) {
        const auto [pid, start_ticks] = watched;
        if (read_start_ticks(static_cast<pid_t>(pid)) == start_ticks) return false;
        tracer_->forget_python_process(pid);
        return true;
    });
    std::erase_if(go_watched_, [&](const auto& watched) {
        const auto [pid, start_ticks] = watched;
        if (read_start_ticks(static_cast<pid_t>(pid)) == start_ticks) return false;
        tracer_->forget_go_process(pid);
        return true;
    });
}

void Session::on_record(std::span<const std::byte> record) {
    ++records_;
    Decoded decoded = decode_event(record);
    if (auto* error = std::get_if<DecodeError>(&decoded)) {
        ++decode_errors_;
        spdlog::debug("bad record: {}", to_string(*error));
        return;
    }
    std::visit(
        [this](auto& event) {
            vet(event);
            apply(event);
        },
        std::get<Event>(decoded));
}

void Session::vet_stacks(cw_origin& thread, uint64_t captured_ns) {
    for (int32_t* id : {&thread.user_stack_id, &thread.kernel_stack_id}) {
        if (!stack_ledger_.stale(*id, captured_ns)) continue;
        *id = -ESTALE;
        ++stale_stacks_;
    }
}

void Session::vet(cw_event_enter& e) {
    if (e.has_origin) vet_stacks(e.origin, e.origin.opened_ns);
}

void Session::vet(cw_event_leave& e) {
    if (e.has_origin) vet_stacks(e.origin, e.origin.opened_ns);
    if (e.has_closer) vet_stacks(e.closer, e.hdr.ts_ns);
}

void Session::vet(cw_event_origin& e) { vet_stacks(e.origin, e.origin.opened_ns); }

void Session::keep_stack_room(uint64_t now_ns) {
    if (!tracer_) return;
    const KernelCounters k = tracer_->counters();
    const uint64_t lost = k.counter[CW_CNT_USER_STACK_LOST] + k.counter[CW_CNT_KERNEL_STACK_LOST];
    const bool losing = lost > stack_losses_seen_;
    stack_losses_seen_ = lost;
    if (!losing && now_ns < next_stack_census_) return;
    next_stack_census_ = now_ns + kStackCensusNs;
    const StackMaps maps = tracer_->stack_maps();
    const std::vector<int32_t> present = stack_ids(maps.stacks);
    if (!losing && present.size() < maps.capacity / 2) return;
    // What names a stack: the records sent so far, the pending closes (symbolized by fold()),
    // the tracked sockets, and the openers in the kernel's map.
    tracer_->drain(0);
    closes_.fold();
    std::unordered_set<int32_t> referenced;
    table_.for_each([&](const TrackedSocket& s) {
        if (!s.origin) return;
        referenced.insert(s.origin->user_stack_id);
        referenced.insert(s.origin->kernel_stack_id);
    });
    tracer_->for_each_opener([&](uint64_t, const cw_origin_entry& entry) {
        referenced.insert(entry.origin.user_stack_id);
        referenced.insert(entry.origin.kernel_stack_id);
    });
    const std::vector<int32_t> gone = unreferenced_ids(present, referenced);
    if (gone.empty()) return;
    const size_t deleted = delete_stacks(maps, gone);
    const uint64_t deleted_at = monotonic_ns();  // after every deletion: see StackIdLedger
    for (int32_t id : gone) stack_ledger_.deleted(id, deleted_at);
    publish_deletion_time(maps, deleted_at);
    stacks_.forget_stack_ids({gone.begin(), gone.end()});
    stacks_recycled_ += deleted;
    spdlog::debug("stack map: {} of {} entries named by nothing deleted ({} in all so far)",
                  deleted, present.size(), stacks_recycled_);
}

// An opener seen: its process's mappings and Python frames are read while it lives.
void Session::note_opener(const cw_origin& origin) {
    stacks_.note_process(origin.pid, origin.task_start_ns);
    python_.warm(origin, python_stack_read());
}

void Session::apply(const cw_event_enter& e) {
    table_.enter(e);
    if (e.has_origin) note_opener(e.origin);
}

void Session::apply(const cw_event_leave& e) {
    std::optional<TrackedSocket> left = table_.take(e);
    if (!left && may_leave_unseen(e)) left = left_unseen(e);
    if (!left || !close_selected(*left, e)) return;
    // Sockets found by sock_diag entered CLOSE_WAIT at an unknown time: not in the
    // metrics' histogram.
    if (!left->untraced)
        left_close_wait_.add(seconds_between(left->close_wait_since_ns, e.hdr.ts_ns));
    closes_.add(*left, e);
}

// Whether the filters keep a socket that left CLOSE_WAIT (the durations and the late closes).
bool Session::close_selected(const TrackedSocket& left, const cw_event_leave& e) {
    const cw_origin* opener = left.origin ? left.origin.get() : nullptr;
    return close_filter_.selected(left.flow, opener, e.has_closer ? &e.closer : nullptr);
}

// A socket that entered CLOSE_WAIT without a record and left before the kernel's map was
// read: as its leave record tells it.
TrackedSocket Session::left_unseen(const cw_event_leave& e) {
    TrackedSocket s;
    s.key = e.hdr.sk;
    s.flow = e.flow;
    s.close_wait_since_ns = e.hdr.ts_ns - std::min(e.close_wait_ns, e.hdr.ts_ns);
    s.origin = std::make_shared<const cw_origin>(e.origin);
    note_opener(e.origin);
    return s;
}

void Session::apply(const cw_event_origin& e) {
    table_.attach_origin(e);
    note_opener(e.origin);
}

void Session::apply(const cw_event_process& e) {
    stacks_.note_process(e.pid, e.task_start_ns);
    watch_runtimes(e.pid);  // e.g. a libpython loaded after exec()
}

void Session::apply(const cw_event_exec& e) { watch_runtimes(e.pid); }
void Session::apply(const UserStackRecord& e) { stacks_.note_user_stack(e); }

Stats Session::stats() const {
    Stats s = stats_of(tracer_->counters(), records_, decode_errors_);
    s.stacks_lost += stale_stacks_;
    s.lost_events += stale_stacks_;
    s.files_refused = untrusted_file_stats().by_cause();
    s.stacks_recycled = stacks_recycled_;
    s.stale_stacks = stale_stacks_;
    s.origin_map_entries = tracer_->opener_entries();
    return s;
}

}  // namespace cwtrace
