// Socket table + owners + symbols -> Report (pure data for the renderers).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "cwtrace/abi.h"
#include "kernel/decoder.h"
#include "model/report.h"
#include "owners/owners.h"
#include "sockets/sock_diag.h"
#include "sockets/socket_table.h"
#include "symbols/ksyms.h"
#include "symbols/perf_map.h"
#include "symbols/usyms.h"
#include "unwind/unwind_dwarf.h"
#include "unwind/unwind_memo.h"
#include "unwind/unwound_stacks.h"

namespace cwtrace {

struct ReportInput {
    uint64_t now_ns = 0;  // CLOCK_MONOTONIC, the clock of the kernel's timestamps
    uint64_t min_age_ns = 0;
    double tracing_seconds = 0;
    std::vector<pid_t> pid_filter;  // empty: every owner
    Stats stats;
};

// The flow of a socket found by sock_diag, as the tracer's events name it.
cw_flow flow_of(const DiagSocket& socket);

// What sock_diag says of a socket in CLOSE_WAIT, as a report uses it.
struct SocketFacts {
    bool found = false;  // false: no dump listed it (closed meanwhile, or a namespace not dumped)
    bool has_tcp_info = false;
    std::optional<bool> accepted;  // see SocketEntry::accepted
    uint32_t recv_q = 0, send_q = 0;
    uint32_t last_ack_recv_ms = 0;
};

// The sockets in CLOSE_WAIT at start, with their facts and owners, from one sock_diag dump and
// one pass over the holders. A report taken soon after, of these sockets only, uses them
// instead of dumping and scanning again: in front of a million sockets that is seconds.
struct StartSnapshot {
    uint64_t taken_ns = 0;  // CLOCK_MONOTONIC
    struct Known {
        uint64_t ino = 0;
        SocketFacts facts;
        pid_t owner = 0;  // 0: no process holds it
    };
    // By table key: the sockets found were given the consecutive keys first_key, first_key + 1,
    // ... (a million entries in one array, no hash map to fill and look up).
    uint64_t first_key = 0;
    std::vector<Known> known;
    bool consecutive = true;  // false: the keys were not, and nothing here can be used
    std::unordered_map<pid_t, std::string> comms;  // of the owners

    // What is known of the socket of table key `key` and inode `ino`, or nullptr.
    const Known* find(uint64_t key, uint64_t ino) const {
        if (!consecutive || !ino || key < first_key || key - first_key >= known.size())
            return nullptr;
        const Known& k = known[key - first_key];
        return k.ino == ino ? &k : nullptr;
    }
};

class ReportBuilder {
  public:
    using StackLookup = std::function<std::vector<uint64_t>(int32_t stack_id)>;

    explicit ReportBuilder(StackLookup stacks);

    // The Python frames of an origin (see PythonTracker), merged into its user stack; nullopt
    // when it has none.
    using PythonFrames = std::function<std::optional<std::vector<Frame>>(const cw_origin&)>;
    void set_python_frames(PythonFrames python) { python_ = std::move(python); }

    // Snapshots a process's mappings while it lives, so its frames resolve after it exits.
    // `task_start_ns` (start_boottime) tells a process from a later one reusing its pid.
    void note_process(uint32_t pid, uint64_t task_start_ns);

    // Dwarf mode: unwinds an opening's stack copy now, while the process and its files are
    // there; a report then shows it for that socket instead of the frame-pointer stack.
    void note_user_stack(const UserStackRecord& record);
    const UnwindStats& unwind_stats() const { return unwinder_.stats(); }
    // Where each unwind's memo goes (the kernel side's unwind_memos map): a later opening that
    // matches it carries the unwound stack's id in its origin and sends no copy. `copy_limit`
    // is the most a copy holds (--user-stack-bytes).
    using MemoPublisher = std::function<void(const KernelUnwindMemo&)>;
    void set_memo_publisher(MemoPublisher publish, uint32_t copy_limit) {
        publish_memo_ = std::move(publish);
        copy_limit_ = copy_limit;
    }
    uint64_t memos_published() const { return memos_published_; }

    // With `start`, the facts and owners it holds stand for a new dump and /proc pass; every
    // tracked socket must be in it (see usable_for()). It is emptied on the way (memory).
    Report build(const SocketTable& table, const ReportInput& input,
                 StartSnapshot* start = nullptr);

    // How the holders of sockets are found: one /proc pass unless this is set (SocketHolders,
    // the BPF walk; it returns nullopt when it fails, and the /proc pass is made instead).
    using OwnerFinder = std::function<std::optional<HeldSockets>(const InodeFilter&)>;
    void set_owner_finder(OwnerFinder finder) { owner_finder_ = std::move(finder); }

    // The sockets in CLOSE_WAIT now, each handed to `add` as the dump lists it, and the facts
    // and owners of those it added: `add` returns the table key it gave one, 0 when it did not.
    StartSnapshot snapshot_at_start(const std::function<uint64_t(const DiagSocket&)>& add);
    // Whether a report of `table` at `now_ns` may use `start`: taken at most `max_age_ns` ago,
    // and every tracked socket one it saw.
    static bool usable_for(const StartSnapshot& start, const SocketTable& table, uint64_t now_ns,
                           uint64_t max_age_ns);

    using ProcessKey = std::pair<uint32_t, uint64_t>;  // pid, start time
    // Forgets the mappings, perf maps and symbolized stacks kept for processes that have exited
    // and are not in `keep` (the openers of the sockets still tracked): on a host that runs many
    // short-lived processes they would otherwise grow without bound. Returns how many processes
    // were forgotten.
    size_t forget_exited(const std::set<ProcessKey>& keep);
    size_t processes_known() const { return maps_.size(); }

    // The sockets in CLOSE_WAIT now, from sock_diag (with --pid, and after a lost event).
    static std::vector<DiagSocket> close_wait_now();

    // A thread recorded by the kernel side (an opener, or a closer) with its pid, tid, comm
    // and symbolized stacks, whatever its kind; stacks are symbolized once and cached. With
    // `unwound_id` (an opener in dwarf mode, see unwound_stack()), that stack is its user stack.
    Origin resolve_thread(const cw_origin& thread,
                          std::optional<uint32_t> unwound_id = std::nullopt);

    // Dwarf mode: the id of the unwound stack of the opening of socket `sk` by `opener` (named
    // by the opener when the kernel matched it to a memo); nullopt when it has none (fp mode,
    // copy lost, nothing unwound).
    std::optional<uint32_t> unwound_stack(uint64_t sk, const cw_origin& opener) const {
        if (opener.unwound_id && unwound_.has_stack(opener.unwound_id - 1))
            return opener.unwound_id - 1;
        return unwound_.find(sk, opener.opened_ns);
    }

  private:
    HeldSockets find_holders(const InodeFilter& wanted);

    // Sockets opened by one thread through one path share one resolved Origin: everything in it
    // follows from these fields (the opening time aside). Kept for one report.
    using OriginKey = std::tuple<uint32_t, uint32_t, uint32_t, std::string_view, uint64_t, int32_t,
                                 int32_t, uint64_t, uint32_t, int64_t, int64_t>;
    using ResolvedOrigins = std::map<OriginKey, SharedOrigin>;
    // The opening path of socket `sk`, resolved once per key in `resolved`; empty for an opener
    // of unknown kind.
    SharedOrigin resolve_origin(const cw_origin& origin, uint64_t sk, ResolvedOrigins& resolved);
    const std::vector<Frame>& kernel_frames(int32_t stack_id);
    std::vector<Frame> user_frames(const cw_origin& origin, std::optional<uint32_t> unwound_id);
    std::vector<Frame> native_frames(const cw_origin& origin);
    // Dwarf mode: the frames of an unwound stack; nullopt when the process's maps are unknown.
    std::optional<std::vector<Frame>> unwound_frames(const cw_origin& origin, uint32_t unwound_id);
    // One user frame; code outside any mapped file is looked up in the process's perf map.
    Frame user_frame(const cw_origin& origin, const ProcessMaps& maps, uint64_t addr);

    StackLookup stacks_;
    PythonFrames python_;
    OwnerFinder owner_finder_;
    std::optional<KernelSymbols> kernel_symbols_;  // loaded on first use
    UserSymbolizer user_symbolizer_;
    std::map<ProcessKey, std::optional<ProcessMaps>> maps_;  // nullopt: gone before we looked
    std::unordered_map<int32_t, std::vector<Frame>> kernel_stacks_;
    // pid, start time, stack id, leaf caller, Python status and stack, unwound stack id (-1:
    // the frame-pointer stack).
    std::map<std::tuple<uint32_t, uint64_t, int32_t, uint64_t, uint32_t, uint64_t, int64_t>,
             std::vector<Frame>>
        user_stacks_;
    DwarfUnwinder unwinder_;
    std::map<ProcessKey, std::optional<PerfMap>> perf_maps_;  // nullopt: the process has none
    UnwoundStacks unwound_;
    MemoPublisher publish_memo_;
    uint32_t copy_limit_ = 0;
    uint64_t memos_published_ = 0;
};

}  // namespace cwtrace
