// Stack resolution: the kernel's stack ids, the frame-pointer walks, dwarf-unwound copies and
// Python frames of a recorded thread made symbolized frames, cached per process and stack.
// It lives in report/, not symbols/: it needs unwind/ and python/, which link after symbols/.
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
#include <unordered_set>
#include <utility>
#include <vector>

#include "cwtrace/abi.h"
#include "kernel/decoder.h"
#include "model/report.h"
#include "report/naming_hints.h"
#include "report/own_frame.h"
#include "symbols/ksyms.h"
#include "symbols/perf_map.h"
#include "symbols/usyms.h"
#include "unwind/unwind_dwarf.h"
#include "unwind/unwind_memo.h"
#include "unwind/unwound_stacks.h"

namespace cwtrace {

class StackResolver {
  public:
    using StackLookup = std::function<std::vector<uint64_t>(int32_t stack_id)>;

    explicit StackResolver(StackLookup stacks);

    // The Python frames of an origin (see PythonTracker), merged into its user stack; nullopt
    // when it has none.
    using PythonFrames = std::function<std::optional<std::vector<Frame>>(const cw_origin&)>;
    void set_python_frames(PythonFrames python) { python_ = std::move(python); }
    // The creators of an origin's goroutine (see GoTracker), appended to its user stack as
    // callers; nullopt when it has none.
    using GoCreators = std::function<std::optional<cw_go_creator>(const cw_origin&)>;
    void set_go_creators(GoCreators go) { go_ = std::move(go); }
    // What counts as the user's own code in an opening path (--own patterns besides the rules).
    void set_own_code(OwnCode own) { own_ = std::move(own); }

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

    using ProcessKey = std::pair<uint32_t, uint64_t>;  // pid, start time
    // Forgets the mappings, perf maps and symbolized stacks kept for processes that have exited
    // and are not in `keep` (the openers of the sockets still tracked): on a host that runs many
    // short-lived processes they would otherwise grow without bound. Returns how many processes
    // were forgotten.
    size_t forget_exited(const std::set<ProcessKey>& keep);
    size_t processes_known() const { return maps_.size(); }
    // What was cut or refused reading what processes name, for -v: "" when nothing was.
    std::string read_losses() const;

    // The kernel deleted these stack ids (kernel/stack_recycler): a later stack may take one,
    // so what was symbolized under them goes.
    void forget_stack_ids(const std::unordered_set<int32_t>& ids);

    // A thread recorded by the kernel side (an opener, or a closer) with its pid, tid, comm
    // and symbolized stacks, whatever its kind; stacks are symbolized once and cached. With
    // `unwound_id` (an opener in dwarf mode, see unwound_stack()), that stack is its user stack.
    Origin resolve_thread(const cw_origin& thread,
                          std::optional<uint32_t> unwound_id = std::nullopt);

    // Sockets opened by one thread through one path share one resolved Origin: everything in it
    // follows from these fields (the opening time aside). Kept for one report.
    using OriginKey = std::tuple<uint32_t, uint32_t, uint32_t, std::string_view, uint64_t, int32_t,
                                 int32_t, uint64_t, uint32_t, int64_t, int64_t, uint32_t>;
    using ResolvedOrigins = std::map<OriginKey, SharedOrigin>;
    // The opening path of socket `sk`, resolved once per key in `resolved`; empty for an opener
    // of unknown kind.
    SharedOrigin resolve_origin(const cw_origin& origin, uint64_t sk, ResolvedOrigins& resolved);

    // Dwarf mode: the id of the unwound stack of the opening of socket `sk` by `opener` (named
    // by the opener when the kernel matched it to a memo); nullopt when it has none (fp mode,
    // copy lost, nothing unwound).
    std::optional<uint32_t> unwound_stack(uint64_t sk, const cw_origin& opener) const {
        if (opener.unwound_id && unwound_.has_stack(opener.unwound_id - 1))
            return opener.unwound_id - 1;
        return unwound_.find(sk, opener.opened_ns);
    }

  private:
    const std::vector<Frame>& kernel_frames(int32_t stack_id);
    std::vector<Frame> user_frames(const cw_origin& origin, std::optional<uint32_t> unwound_id);
    std::vector<Frame> native_frames(const cw_origin& origin);
    // The frames of the goroutines that created the opening one, outermost last.
    std::vector<Frame> creator_frames(const cw_origin& origin);
    // Dwarf mode: the frames of an unwound stack; nullopt when the process's maps are unknown.
    std::optional<std::vector<Frame>> unwound_frames(const cw_origin& origin, uint32_t unwound_id);
    // The frames of a walked or unwound stack's `ips` (innermost first; all but the first are
    // return addresses), Go's inlined calls each a frame.
    std::vector<Frame> frames_at(const cw_origin& origin, const ProcessMaps& maps,
                                 const std::vector<uint64_t>& ips);
    // The frames of the code at `addr`, innermost first (see UserSymbolizer::symbolize_inlined);
    // code outside any mapped file is looked up in the process's perf map.
    std::vector<Frame> user_frames_at(const cw_origin& origin, const ProcessMaps& maps,
                                      uint64_t addr);

    StackLookup stacks_;
    PythonFrames python_;
    GoCreators go_;
    OwnCode own_;
    NamingHints naming_hints_;
    std::optional<KernelSymbols> kernel_symbols_;  // loaded on first use
    UserSymbolizer user_symbolizer_;
    ProcessMapsReader maps_reader_;  // forks with the same mappings share one table
    std::map<ProcessKey, std::optional<ProcessMaps>> maps_;  // nullopt: gone before we looked
    std::unordered_map<int32_t, std::vector<Frame>> kernel_stacks_;
    // pid, start time, stack id, leaf caller, Python status and stack (or Go creator), unwound
    // stack id (-1: the frame-pointer stack), Go status.
    std::map<
        std::tuple<uint32_t, uint64_t, int32_t, uint64_t, uint32_t, uint64_t, int64_t, uint32_t>,
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
