// One tracing session: the tracer's records go through the decoder into the socket table, and a
// report is built from the table, the owners and the symbols whenever one is asked for.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "app/cli.h"
#include "app/config.h"
#include "golang/go_creators.h"
#include "kernel/decoder.h"
#include "kernel/stack_recycler.h"
#include "kernel/tracer.h"
#include "owners/owner_finder.h"
#include "owners/start_snapshot.h"
#include "python/python_stacks.h"
#include "report/report_builder.h"
#include "report/socket_filter.h"
#include "report/stack_resolver.h"
#include "sockets/late_closes.h"
#include "sockets/sock_diag.h"
#include "sockets/socket_table.h"
#include "util/histogram.h"
#include "util/progress.h"
#include "util/result.h"

namespace cwtrace {

class Session {
  public:
    Session(const Options& options, const EnvConfig& env);

    // The final report, once written (write() with `last`).
    const Report* last_report() const { return last_report_.get(); }

    // Where the start-up and each report tell their progress (util/progress); nullptr: nowhere.
    void show_progress(ProgressLine* line) { progress_ = line; }

    // Loads and attaches the programs, then finds the sockets already in CLOSE_WAIT and the
    // Python processes already running.
    Result<void> start(const std::string& tracefs);
    // Reads what the kernel sent, waiting at most `timeout_ms` for it.
    void drain(int timeout_ms);
    // Reads the sockets the kernel noted in CLOSE_WAIT in its map (their openers known); stops
    // early when `stop` says so (a report will read them all).
    void collect_close_wait(const std::function<bool()>& stop = {});
    // Drops what was cached to symbolize processes that have exited and that nothing names.
    void forget_exited();
    // Deletes the stacks nothing refers to from the kernel's stack map when it is half full, or
    // stacks were lost since the last call (kernel/stack_recycler).
    void keep_stack_room(uint64_t now_ns);

    // Writes the report of now to `sink` in pieces (a million sockets are never one string);
    // false when a write failed. `last`: the report is kept with the session.
    using Sink = std::function<bool(std::string_view)>;
    // `stream`: the stream the sink writes to, whose terminal the text is laid out for (nullptr:
    // a file).
    bool write(uint64_t now_ns, Format format, const Sink& sink, bool last = false,
               std::FILE* stream = nullptr);
    // Likewise to a stream, flushed.
    bool write(uint64_t now_ns, Format format, FILE* out, bool last = false);
    // Continuous mode: the report of now as a Prometheus exposition.
    std::string metrics(uint64_t now_ns);

    // Ends tracing: the programs detached, every record they sent read, the rings unmapped.
    void finish_tracing();
    // Detaches the programs and frees the kernel's maps.
    void stop();

  private:
    class Progress;
    void watch_running_processes();
    void watch_runtimes(uint32_t pid);
    void watch_python(uint32_t pid, uint64_t start, const ProcessMaps& maps);
    // Registers a Go process with the kernel side, so its openings record their goroutines'
    // creators.
    void watch_go(uint32_t pid, uint64_t start, const ProcessMaps& maps);
    PythonTracker::StackRead python_stack_read();
    void backfill(const ProgressFn& dumped);
    void add_untraced(const cw_flow& flow, uint64_t inode, uint64_t now_ns);
    void follow_untraced(uint64_t now_ns, const std::vector<DumpedSocket>& dump);
    void add_unknown(uint64_t now_ns, const std::vector<DumpedSocket>& dump,
                     const SortedFlows& flows, const TrackedFlows& tracked);
    bool events_lost() const;
    void reconcile(uint64_t now_ns, std::future<std::vector<DumpedSocket>>& pending,
                   std::optional<std::vector<DumpedSocket>>& dumped);
    bool start_serves(uint64_t now_ns) const;
    // A report's sock_diag dump and walk of the holders, under way on threads.
    struct Scans {
        std::future<std::vector<DumpedSocket>> dump;
        std::future<std::optional<HeldSockets>> held;
    };
    Scans start_scans();
    Report build(uint64_t now_ns);
    Stats stats() const;

    void on_record(std::span<const std::byte> record);
    // Stack ids deleted after the thread was captured: lost (counted), not another stack's.
    void vet_stacks(cw_origin& thread, uint64_t captured_ns);
    void vet(cw_event_enter& e);
    void vet(cw_event_leave& e);
    void vet(cw_event_origin& e);
    template <typename Other>
    void vet(Other&) {}
    void note_opener(const cw_origin& origin);
    void apply(const cw_event_enter& e);
    void apply(const cw_event_leave& e);
    TrackedSocket left_unseen(const cw_event_leave& e);
    bool close_selected(const TrackedSocket& left, const cw_event_leave& e);
    void apply(const cw_event_origin& e);
    void apply(const cw_event_process& e);
    void apply(const cw_event_exec& e);
    void apply(const UserStackRecord& e);

    const Options& options_;
    const EnvConfig& env_;
    std::unique_ptr<Tracer> tracer_;
    SocketTable table_;
    StackResolver stacks_;
    OwnerFinder owners_;
    ReportBuilder builder_;
    CloseLog closes_;             // sockets that left CLOSE_WAIT: late closes, durations per path
    CloseSelector close_filter_;  // which of them --port, --comm, ... keep
    PythonTracker python_;
    std::map<uint32_t, uint64_t> python_watched_;  // pid -> start time (clock ticks)
    GoTracker go_;
    std::map<uint32_t, uint64_t> go_watched_;  // pid -> start time (clock ticks)
    std::optional<StartSnapshot> start_;       // for the first report, if soon enough
    bool map_unreadable_ = false;  // collect_close_wait() failed: sock_diag finds the sockets
    bool tracing_ended_ = false;   // finish_tracing() done: no socket enters CLOSE_WAIT unseen
    uint64_t started_ns_ = 0;
    uint64_t records_ = 0;
    uint64_t decode_errors_ = 0;
    StackIdLedger stack_ledger_;
    uint64_t stacks_recycled_ = 0;    // deleted from the kernel's stack map, nothing naming them
    uint64_t stale_stacks_ = 0;       // named by a thread captured before their deletion: lost
    uint64_t stack_losses_seen_ = 0;  // the kernel's count at the last keep_stack_room()
    uint64_t next_stack_census_ = 0;
    Log2Histogram left_close_wait_;  // sockets that left CLOSE_WAIT: folded in, never kept
    ProgressLine* progress_ = nullptr;
    std::unique_ptr<Report> last_report_;  // the final one, freed with the session (never: run())
};

}  // namespace cwtrace
