#include "app/run.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "app/config.h"
#include "app/logging.h"
#include "app/notify.h"
#include "app/preflight.h"
#include "app/session.h"
#include "metrics/metrics_exporter.h"
#include "util/atomic_file.h"
#include "util/clock.h"
#include "util/display.h"
#include "util/progress.h"

namespace cwtrace {
namespace {

constexpr uint64_t kDrainNs = 100'000'000;      // how stale the table may get between drains
constexpr uint64_t kForgetNs = 60'000'000'000;  // how often caches of exited processes are dropped
// How often the sockets the kernel noted in CLOSE_WAIT are read from its map between reports,
// so that a report adds only the last ones.
constexpr uint64_t kCollectNs = 10'000'000'000;
// How often the kernel's stack losses are looked at, to make room in its stack map.
constexpr uint64_t kStackRoomNs = 1'000'000'000;

volatile sig_atomic_t g_stop = 0;

// The session, with its last report, is left for the exit to take back: a million tracked
// sockets, their report and caches are millions of allocations, most of a second to free one by
// one, which the kernel does at once when the process exits. Held here, not lost (leak checkers
// see it; volatile: a store never read back would otherwise be dropped by the compiler).
void* volatile g_left_for_exit = nullptr;

void on_stop_signal(int) { g_stop = 1; }

void install_signal_handlers() {
    struct sigaction sa = {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);  // a closed pipe is a write error, handled where we write
}

// A message may carry a path or a name from another process: escaped as log lines are.
int fail(const Error& error) {
    const std::string message = display_safe(error.message);
    if (error.hint.empty())
        std::fprintf(stderr, "cwtrace: %s\n", message.c_str());
    else
        std::fprintf(stderr, "cwtrace: %s (hint: %s)\n", message.c_str(),
                     display_safe(error.hint).c_str());
    return 1;
}

// Drains the kernel's records until the duration ends or a signal stops tracing, with the
// periodic reports, metrics and housekeeping on their own clocks.
void poll_until_stopped(const Options& options, Session& session, MetricsExporter* metrics) {
    // -d and -i count from here, when tracing is said to run: the start-up (in front of a million
    // sockets, seconds of dump and /proc pass) is not part of the window asked for.
    const uint64_t start = monotonic_ns();
    const uint64_t deadline = options.duration ? start + options.duration->count() : UINT64_MAX;
    uint64_t next_report = options.interval ? start + options.interval->count() : UINT64_MAX;
    bool stdout_ok = true;
    uint64_t next_forget = start + kForgetNs;
    uint64_t next_collect = start + kCollectNs;
    uint64_t next_stack_room = start + kStackRoomNs;
    while (!g_stop) {
        const uint64_t now = monotonic_ns();
        if (now >= deadline) break;
        if (now >= next_forget) {
            session.forget_exited();
            next_forget = now + kForgetNs;
        }
        if (now >= next_stack_room) {
            session.keep_stack_room(now);
            next_stack_room = now + kStackRoomNs;
        }
        if (now >= next_collect) {
            // In a burst, a read of a million entries takes seconds: a signal cuts it short.
            session.collect_close_wait([] { return g_stop != 0; });
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
}

// The final report: to -o through util/atomic_file, else to stdout. When -o cannot take it (a
// full disk, /dev/full, the directory gone), it goes to stdout after one line saying why: a
// trace is never lost. Returns the exit code.
int write_final(const Options& options, Session& session) {
    if (options.output.empty()) {
        session.write(monotonic_ns(), options.format, stdout, /*last=*/true);
        return 0;
    }
    auto file = AtomicFile::open(options.output);
    Result<void> written = file ? Result<void>(Ok{}) : file.error();
    if (file) {
        session.write(
            monotonic_ns(), options.format,
            [&](std::string_view piece) { return file->write(piece); },
            /*last=*/true);
        written = file->commit();
    }
    if (written) return 0;
    if (options.format == Format::Pprof && isatty(STDOUT_FILENO))
        return fail({written.error().message, "binary pprof is not written to a terminal"});
    fail({written.error().message, "the report follows on stdout"});
    session.write(monotonic_ns(), options.format, stdout, /*last=*/true);
    return 1;
}

// The text report on stdout says what was lost at its top; a report elsewhere (a file, JSON, a
// picture) says it in a field no one may read: one warning on stderr too, kept by --quiet.
void warn_of_losses(const Options& options, const Report* report) {
    if (!report || report->stats.lost_events == 0) return;
    if (options.output.empty() && options.format == Format::Text) return;
    spdlog::warn("{} events lost: the report may be incomplete (it names the causes)",
                 report->stats.lost_events);
}

}  // namespace

int run(const Options& options) {
    // Progress on stderr only where a person watches it, and not between -v's debug lines
    // (they are the sign of life there). Never on stdout: the reports go there. Static: the
    // logger and the session, left for the exit, keep it.
    static ProgressLine progress(isatty(STDERR_FILENO) && !options.quiet && !options.verbose,
                                 [](std::string_view text) {
                                     std::fwrite(text.data(), 1, text.size(), stderr);
                                     std::fflush(stderr);
                                 });
    setup_logging(options.verbose ? LogLevel::Verbose
                  : options.quiet ? LogLevel::Quiet
                                  : LogLevel::Normal,
                  &progress);
    const EnvConfig env = read_env_config(std::getenv);
    for (const std::string& warning : env.warnings) spdlog::warn("{}", warning);
    auto tracefs = preflight(options, env);
    if (!tracefs) return fail(tracefs.error());

    install_signal_handlers();
    // Before tracing starts, so that a port in use costs nothing.
    auto exporter = MetricsExporter::start({options.metrics_addr, options.metrics_textfile});
    if (!exporter) return fail(exporter.error());
    MetricsExporter* metrics = exporter->get();
    auto session = std::make_unique<Session>(options, env);
    session->show_progress(&progress);
    if (auto started = session->start(*tracefs); !started) return fail(started.error());
    spdlog::info("tracing TCP sockets entering CLOSE_WAIT (min-age {}); Ctrl-C to stop",
                 human_setting(options.min_age));
    tell_service_manager("READY=1");  // attached, and the sockets already stuck are in

    poll_until_stopped(options, *session, metrics);
    tell_service_manager("STOPPING=1");

    // The final report is of the sockets as tracing ends; built without the rings mapped, it
    // peaks lower.
    session->finish_tracing();
    if (metrics) metrics->finish([&] { return session->metrics(monotonic_ns()); });
    const int exit_code = write_final(options, *session);
    warn_of_losses(options, session->last_report());
    // Detached now, whatever comes: the rest is left for the exit to free.
    session->stop();
    g_left_for_exit = session.release();
    return exit_code;
}

}  // namespace cwtrace
