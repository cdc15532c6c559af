#include "app/session.h"

#include <malloc.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <spdlog/stopwatch.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <map>
#include <set>
#include <unordered_set>

#include "app/preflight.h"
#include "kernel/decoder.h"
#include "kernel/tracer.h"
#include "metrics/metrics.h"
#include "metrics/metrics_exporter.h"
#include "owners/owner_finder.h"
#include "owners/owners.h"
#include "owners/start_snapshot.h"
#include "python/python_stacks.h"
#include "render/render.h"
#include "report/report_builder.h"
#include "report/stack_resolver.h"
#include "sockets/close_wait_scan.h"
#include "sockets/late_closes.h"
#include "sockets/socket_table.h"
#include "util/histogram.h"

namespace cwtrace {
namespace {

constexpr uint64_t kDrainNs = 100'000'000;          // how stale the table may get between drains
constexpr uint64_t kStartReuseNs = 10'000'000'000;  // how long the start's facts stand
constexpr uint64_t kForgetNs = 60'000'000'000;  // how often caches of exited processes are dropped
// How often the sockets the kernel noted in CLOSE_WAIT are read from its map between reports:
// a report then adds only the last ones (100,000 at once take ~0.3 s), at ~1% of a CPU to read
// 100,000 already known.
constexpr uint64_t kCollectNs = 10'000'000'000;

volatile sig_atomic_t g_stop = 0;

// What the last report leaves for the exit to take back: a million tracked sockets, their
// report and caches are millions of allocations, most of a second to free one by one, which the
// kernel does at once when the process exits. Held here, not lost (leak checkers see them;
// volatile: stores never read back would otherwise be dropped by the compiler).
struct LeftForExit {
    void* volatile session = nullptr;
    void* volatile report = nullptr;
};
LeftForExit g_left_for_exit;

void on_stop_signal(int) { g_stop = 1; }

void install_signal_handlers() {
    struct sigaction sa = {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);  // a closed pipe is a write error, handled where we write
}

uint64_t monotonic_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + ts.tv_nsec;
}

// 0 when the clocks disagree (a timestamp from before the other), never a huge unsigned value.
double seconds_between(uint64_t from_ns, uint64_t to_ns) {
    return to_ns > from_ns ? static_cast<double>(to_ns - from_ns) / 1e9 : 0.0;
}

void setup_logging(bool verbose) {
    auto logger = spdlog::stderr_logger_mt("cwtrace");  // the start's walk logs from a thread
    logger->set_pattern("cwtrace: %v");
    logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
    spdlog::set_default_logger(logger);
}

// Map sizes can be overridden through the environment: how tests fill maps on purpose, and
// how a user with unusual scale trades kernel memory for capacity. 0 keeps the default.
uint32_t env_size(const char* name) {
    const char* value = std::getenv(name);
    if (!value) return 0;
    const unsigned long long n = std::strtoull(value, nullptr, 10);
    if (n == 0 || n > UINT32_MAX) {
        spdlog::warn("ignoring {}={}: not a size", name, value);
        return 0;
    }
    return static_cast<uint32_t>(n);
}

int fail(const Error& error) {
    if (error.hint.empty())
        std::fprintf(stderr, "cwtrace: %s\n", error.message.c_str());
    else
        std::fprintf(stderr, "cwtrace: %s (hint: %s)\n", error.message.c_str(), error.hint.c_str());
    return 1;
}

// Glues the pieces: records -> decoder -> table; table -> builder -> renderer.
class Session {
  public:
    explicit Session(const Options& options)
        : options_(options),
          stacks_([this](int32_t id) {
              return tracer_ ? tracer_->stack(id) : std::vector<uint64_t>{};
          }),
          builder_(stacks_, owners_),
          closes_(static_cast<uint64_t>(options.min_age.count()), options.pids,
                  [this](const cw_origin& thread) { return stacks_.resolve_thread(thread); }) {
        stacks_.set_python_frames(
            [this](const cw_origin& o) { return python_.frames(o, python_stack_read()); });
        closes_.set_unwound_openers(
            [this](const cw_origin& o, uint64_t sk) -> int64_t {
                auto id = stacks_.unwound_stack(sk, o);
                return id ? int64_t{*id} : -1;
            },
            [this](const cw_origin& o, uint32_t id) { return stacks_.resolve_thread(o, id); });
    }

    Result<bool> start(const std::string& tracefs) {
        TracerConfig config;
        config.tracefs = tracefs;
        for (pid_t pid : options_.pids) config.pids.push_back(static_cast<uint32_t>(pid));
        config.btf_path = options_.btf_path;
        config.origin_entries = env_size("CWTRACE_ORIGIN_MAP_ENTRIES");
        config.stack_entries = env_size("CWTRACE_STACK_MAP_ENTRIES");
        config.ringbuf_bytes = env_size("CWTRACE_RINGBUF_BYTES");
        config.copies_ringbuf_bytes = env_size("CWTRACE_COPY_RINGBUF_BYTES");
        config.closer_min_age_ns = static_cast<uint64_t>(options_.min_age.count());
        config.user_stack_mode =
            options_.user_stacks == UserStacks::Dwarf ? CW_USER_STACKS_DWARF : CW_USER_STACKS_FP;
        config.user_stack_bytes = options_.user_stack_bytes;
        auto tracer = Tracer::start(config, [this](std::span<const std::byte> r) { on_record(r); });
        if (!tracer) return tracer.error();
        tracer_ = std::move(*tracer);
        if (config.user_stack_mode == CW_USER_STACKS_DWARF)
            stacks_.set_memo_publisher(
                [this](const KernelUnwindMemo& m) { tracer_->set_unwind_memo(m.key, m.memo); },
                config.user_stack_bytes);
        started_ns_ = monotonic_ns();
        // Looking at every process for Python is independent of the dump and the walk: beside
        // them, it adds nothing to the start-up.
        auto python = std::async(std::launch::async, [this] { find_python_processes(); });
        backfill();
        python.get();
        // The dump's and the walk's buffers are freed: their pages go back (~3 MB at 100,000).
        malloc_trim(0);
        return true;
    }

    // Python processes already running; later ones are seen at exec().
    void find_python_processes() {
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
            const std::string name = entry.path().filename().string();
            if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
            watch_python(static_cast<uint32_t>(std::stoul(name)));
        }
        if (python_.processes())
            spdlog::debug("{} processes looked at for Python", python_.processes());
    }

    void watch_python(uint32_t pid) {
        if (!options_.pids.empty() && std::find(options_.pids.begin(), options_.pids.end(),
                                                static_cast<pid_t>(pid)) == options_.pids.end())
            return;
        if (auto entry = python_.inspect(static_cast<pid_t>(pid))) {
            if (tracer_->set_python_process(pid, *entry))
                python_watched_[pid] = read_start_ticks(static_cast<pid_t>(pid));
            else
                spdlog::warn("pid {}: cannot watch its Python frames (map full)", pid);
        }
    }

    PythonTracker::StackRead python_stack_read() {
        return [this](uint64_t id) {
            return tracer_ ? tracer_->python_stack(id) : std::optional<cw_py_stack>{};
        };
    }

    // After attaching, so that no socket falls between the dump and the trace; one seen by both
    // is reconciled by its flow in the table.
    void backfill() {
        spdlog::stopwatch watch;
        size_t added = 0;
        StartSnapshot start = snapshot_at_start(owners_, [&](const DiagSocket& d) -> uint64_t {
            if (!table_.add_before_start(flow_of(d), d.inode, started_ns_)) return 0;
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
    void follow_untraced(uint64_t now_ns) {
        std::unordered_set<cw_flow, FlowHash, FlowEqual> present;
        std::unordered_set<uint64_t> held;
        for (pid_t pid : options_.pids) held.merge(socket_inodes_of(pid));
        for (const DiagSocket& d : close_wait_now()) {
            const cw_flow flow = flow_of(d);
            present.insert(flow);
            if (d.inode && held.count(d.inode)) table_.add_untraced(flow, d.inode, now_ns);
        }
        table_.drop_untraced_missing(present);
    }

    // A CLOSE_WAIT event the kernel could not deliver (ring buffer full, a skipped program run)
    // leaves its socket out of the table: once that has happened, each report looks for such
    // sockets through sock_diag and adds them as found then.
    bool events_lost() const {
        const KernelCounters k = tracer_->counters();
        return k.counter[CW_CNT_RINGBUF_FULL] || k.recursion_misses;
    }
    void find_lost(uint64_t now_ns) {
        for (const DiagSocket& d : close_wait_now())
            table_.add_untraced(flow_of(d), d.inode, now_ns);
    }
    void reconcile(uint64_t now_ns) {
        if (!options_.pids.empty())
            follow_untraced(now_ns);
        else if (events_lost() || map_unreadable_)
            find_lost(now_ns);
    }

    // The sockets the kernel noted in CLOSE_WAIT in its map instead of sending a record (their
    // openers known): into the table, as those records would have put them.
    void collect_close_wait() {
        if (!tracer_) return;
        spdlog::stopwatch watch;
        size_t read = 0, added = 0;
        const bool ok =
            tracer_->for_each_close_wait([&](uint64_t sk, const cw_origin_entry& entry) {
                ++read;
                const TrackedSocket* known = table_.find(sk);
                // Known as is, unless accept() named its opener in a record that was lost.
                if (known && known->close_wait_since_ns == entry.close_wait_since && known->origin)
                    return;
                apply(enter_of(sk, entry));
                ++added;
            });
        spdlog::debug("{} sockets in CLOSE_WAIT read from the kernel's map ({} new) in {:.3f} s",
                      read, added, watch);
        if (!ok && !map_unreadable_) {
            spdlog::warn(
                "cannot read the kernel's map of sockets in CLOSE_WAIT (--verbose says why): "
                "reports find them through sock_diag, without who opened them");
            map_unreadable_ = true;
        }
    }

    // The report of the sockets in CLOSE_WAIT now, after the table is reconciled with the kernel.
    Report build(uint64_t now_ns) {
        collect_close_wait();
        reconcile(now_ns);
        // A report soon after start, of the sockets found then only (and no event lost), uses
        // their facts and owners from then: in front of a pile-up, one dump and one /proc pass.
        std::optional<StartSnapshot> start = std::move(start_);
        start_.reset();
        const bool reuse = start && options_.pids.empty() && !events_lost() &&
                           usable_for(*start, table_, now_ns, kStartReuseNs);
        if (!reuse) start.reset();
        ReportInput input;
        input.now_ns = now_ns;
        input.min_age_ns = static_cast<uint64_t>(options_.min_age.count());
        input.tracing_seconds = static_cast<double>(now_ns - started_ns_) / 1e9;
        input.pid_filter = options_.pids;
        input.stats = stats();
        return builder_.build(table_, input, reuse ? &*start : nullptr);
    }

    // Ends tracing: the programs detached, every record they sent read, the rings unmapped.
    void finish_tracing() { tracer_->finish(); }

    // Detaches the programs and frees the kernel's maps.
    void stop() {
        tracer_.reset();
        owners_.unload();
    }

    void drain(int timeout_ms) {
        int n = tracer_->drain(timeout_ms);
        if (n < 0) spdlog::debug("ring buffer: {}", std::strerror(-n));
    }

    // Writes the report of now to `out`, in pieces (a million sockets are never one string).
    // Returns false when a write failed.
    // `last`: the report is not freed (see LeftForExit).
    bool write(uint64_t now_ns, Format format, FILE* out, bool last = false) {
        if (spdlog::should_log(spdlog::level::debug)) {  // the kernel's counters: syscalls
            const UnwindStats& u = stacks_.unwind_stats();
            spdlog::debug(
                "dwarf unwinding: {} unwinds, {} memoized, {} failed; {} memos given to the "
                "kernel, {} openings matched there (no copy)",
                u.unwinds, u.memo_hits, u.failures, stacks_.memos_published(),
                tracer_->counters().counter[CW_CNT_UNWIND_MEMO_HITS]);
        }
        Report report = build(now_ns);
        report.late_closes = closes_.late_closes();
        report.close_wait_durations = closes_.durations();
        ReportContext context = ReportContext::here();
        context.weight = options_.weight;
        spdlog::stopwatch watch;
        size_t bytes = 0;
        const bool ok = cwtrace::render(report, format, context, [&](std::string_view piece) {
            bytes += piece.size();
            return std::fwrite(piece.data(), 1, piece.size(), out) == piece.size();
        });
        spdlog::debug("report: {} bytes written as {} in {:.3f} s", bytes, to_string(format),
                      watch);
        if (last) g_left_for_exit.report = new Report(std::move(report));
        return ok && std::fflush(out) == 0;
    }

    // Continuous mode: the same report, counted for Prometheus. Stacks are symbolized once and
    // cached by the stack resolver, so this costs a /proc and sock_diag pass, not a symbolization.
    std::string metrics(uint64_t now_ns) {
        return render_metrics(
            make_snapshot(build(now_ns), left_close_wait_, options_.metrics_top, CWTRACE_VERSION));
    }

    // What was cached to symbolize exited processes is dropped once nothing names them: pending
    // closes are folded (symbolized) first, and tracked sockets keep their openers'.
    void forget_exited() {
        collect_close_wait();  // their openers' processes are kept
        closes_.fold();
        std::set<StackResolver::ProcessKey> keep;
        table_.for_each([&](const TrackedSocket& s) {
            if (s.origin) keep.insert({s.origin->pid, s.origin->task_start_ns});
        });
        if (size_t n = stacks_.forget_exited(keep))
            spdlog::debug("forgot {} exited processes ({} still known)", n,
                          stacks_.processes_known());
        // Python processes that exited leave the kernel's watch list, which has room for 4096.
        std::erase_if(python_watched_, [&](const auto& watched) {
            const auto [pid, start_ticks] = watched;
            if (read_start_ticks(static_cast<pid_t>(pid)) == start_ticks) return false;
            tracer_->forget_python_process(pid);
            return true;
        });
    }

  private:
    void on_record(std::span<const std::byte> record) {
        ++records_;
        Decoded decoded = decode_event(record);
        if (auto* error = std::get_if<DecodeError>(&decoded)) {
            ++decode_errors_;
            spdlog::debug("bad record: {}", to_string(*error));
            return;
        }
        std::visit([this](const auto& event) { apply(event); }, std::get<Event>(decoded));
    }
    // An opener seen: its process's mappings and Python frames are read while it lives.
    void note_opener(const cw_origin& origin) {
        stacks_.note_process(origin.pid, origin.task_start_ns);
        python_.warm(origin, python_stack_read());
    }
    void apply(const cw_event_enter& e) {
        table_.enter(e);
        if (e.has_origin) note_opener(e.origin);
    }
    void apply(const cw_event_leave& e) {
        std::optional<TrackedSocket> left = table_.take(e);
        if (!left && may_leave_unseen(e)) left = left_unseen(e);
        if (!left) return;
        // Sockets found by sock_diag entered CLOSE_WAIT at an unknown time: not in the
        // metrics' histogram.
        if (!left->untraced)
            left_close_wait_.add(seconds_between(left->close_wait_since_ns, e.hdr.ts_ns));
        closes_.add(*left, e);
    }
    // A socket that entered CLOSE_WAIT without a record and left before the kernel's map was
    // read: as its leave record tells it.
    TrackedSocket left_unseen(const cw_event_leave& e) {
        TrackedSocket s;
        s.key = e.hdr.sk;
        s.flow = e.flow;
        s.close_wait_since_ns = e.hdr.ts_ns - std::min(e.close_wait_ns, e.hdr.ts_ns);
        s.origin = std::make_shared<const cw_origin>(e.origin);
        note_opener(e.origin);
        return s;
    }
    void apply(const cw_event_origin& e) {
        table_.attach_origin(e);
        note_opener(e.origin);
    }
    void apply(const cw_event_process& e) {
        stacks_.note_process(e.pid, e.task_start_ns);
        watch_python(e.pid);  // e.g. a libpython loaded after exec()
    }
    void apply(const cw_event_exec& e) { watch_python(e.pid); }
    void apply(const UserStackRecord& e) { stacks_.note_user_stack(e); }

    Stats stats() const {
        KernelCounters k = tracer_->counters();
        Stats s;
        s.events = records_;
        s.ringbuf_full = k.counter[CW_CNT_RINGBUF_FULL];
        s.origin_map_full = k.counter[CW_CNT_ORIGIN_MAP_FULL];
        s.stacks_lost = k.counter[CW_CNT_USER_STACK_LOST] + k.counter[CW_CNT_KERNEL_STACK_LOST] +
                        k.counter[CW_CNT_USER_STACK_COPY_LOST];
        s.accept_unresolved = k.counter[CW_CNT_ACCEPT_FD_UNRESOLVED];
        s.python_stacks_lost = k.counter[CW_CNT_PY_STACK_LOST];
        s.python_native_threads = k.counter[CW_CNT_PY_NO_THREAD];
        s.recursion_misses = k.recursion_misses;
        s.decode_errors = decode_errors_;
        s.lost_events = s.ringbuf_full + s.origin_map_full + s.stacks_lost + s.accept_unresolved +
                        s.recursion_misses + s.decode_errors + s.python_stacks_lost;
        return s;
    }

    const Options& options_;
    std::unique_ptr<Tracer> tracer_;
    SocketTable table_;
    StackResolver stacks_;
    OwnerFinder owners_{std::getenv("CWTRACE_PROC_OWNERS") != nullptr};  // /proc only when set
    ReportBuilder builder_;
    CloseLog closes_;  // sockets that left CLOSE_WAIT: late closes, durations per path
    PythonTracker python_;
    std::map<uint32_t, uint64_t> python_watched_;  // pid -> start time (clock ticks)
    std::optional<StartSnapshot> start_;           // for the first report, if soon enough
    bool map_unreadable_ = false;  // collect_close_wait() failed: sock_diag finds the sockets
    uint64_t started_ns_ = 0;
    uint64_t records_ = 0;
    uint64_t decode_errors_ = 0;
    Log2Histogram left_close_wait_;  // sockets that left CLOSE_WAIT: folded in, never kept
};

bool write_final(const Options& options, Session& session) {
    if (options.output.empty())
        return session.write(monotonic_ns(), options.format, stdout, /*last=*/true);
    FILE* out = std::fopen(options.output.c_str(), "w");
    if (!out) return false;
    bool ok = session.write(monotonic_ns(), options.format, out, /*last=*/true);
    return std::fclose(out) == 0 && ok;
}

}  // namespace

int run(const Options& options) {
    setup_logging(options.verbose);
    for (auto check : {check_privileges(), check_btf(options.btf_path)})
        if (!check) return fail(check.error());
    auto tracefs = tracefs_root();
    if (!tracefs) return fail(tracefs.error());

    install_signal_handlers();
    // Before tracing starts, so that a port in use costs nothing.
    auto exporter = MetricsExporter::start({options.metrics_addr, options.metrics_textfile});
    if (!exporter) return fail(exporter.error());
    MetricsExporter* metrics = exporter->get();
    auto owned_session = std::make_unique<Session>(options);
    Session& session = *owned_session;
    if (auto started = session.start(*tracefs); !started) return fail(started.error());
    spdlog::info("tracing TCP sockets entering CLOSE_WAIT (min-age {}); Ctrl-C to stop",
                 format_duration(options.min_age));

    // -d and -i count from here, when tracing is said to run: the start-up (in front of a million
    // sockets, seconds of dump and /proc pass) is not part of the window asked for.
    const uint64_t start = monotonic_ns();
    const uint64_t deadline = options.duration ? start + options.duration->count() : UINT64_MAX;
    uint64_t next_report = options.interval ? start + options.interval->count() : UINT64_MAX;
    bool stdout_ok = true;
    uint64_t next_forget = start + kForgetNs;
    uint64_t next_collect = start + kCollectNs;
    while (!g_stop) {
        const uint64_t now = monotonic_ns();
        if (now >= deadline) break;
        if (now >= next_forget) {
            session.forget_exited();
            next_forget = now + kForgetNs;
        }
        if (now >= next_collect) {
            session.collect_close_wait();
            next_collect = now + kCollectNs;
        }
        if (metrics && now >= metrics->next_refresh_ns())
            metrics->refresh(now, [&] { return session.metrics(now); });
        if (now >= next_report) {
            stdout_ok = stdout_ok && session.write(now, options.periodic_format, stdout);
            // Behind by more than an interval (a slow start or report): skip the missed ones,
            // or `wake` below falls before `now` and the drain waits forever.
            do next_report += options.interval->count();
            while (next_report <= now);
        }
        const uint64_t wake =
            std::min<uint64_t>({deadline, next_report, now + kDrainNs,
                                metrics ? metrics->next_refresh_ns() : UINT64_MAX});
        session.drain(static_cast<int>((wake - std::min(wake, now) + 999'999) / 1'000'000));
    }
    // The final report is of the sockets as tracing ends; built without the rings mapped, it
    // peaks lower.
    session.finish_tracing();
    if (metrics) metrics->finish([&] { return session.metrics(monotonic_ns()); });
    const bool written = write_final(options, session);
    const int saved_errno = errno;
    // Detached now, whatever comes: the rest is left for the exit to free.
    session.stop();
    g_left_for_exit.session = owned_session.release();
    if (!written && !options.output.empty())
        return fail({"cannot write " + options.output + ": " + std::strerror(saved_errno), ""});
    return 0;
}

}  // namespace cwtrace
