// Dwarf-mode user stacks (--user-stacks dwarf): the registers and a copy of the user stack taken
// at connect()/accept() are unwound with the CFI (.eh_frame, .debug_frame) of the files the
// process maps, by elfutils' libdwfl, as `perf --call-graph dwarf` does. Code built without frame
// pointers (Debian's glibc and python3) unwinds through its callers this way.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "symbols/usyms.h"

namespace cwtrace {

// One thread's user state at an opening (x86-64 registers).
struct StackSample {
    uint64_t ip = 0, sp = 0, bp = 0;
    uint32_t tid = 0;
    std::span<const std::byte> stack;  // copied from sp upwards
};

// A stack word an unwind read: at this offset from sp, and what it got (nullopt: outside the
// copy). Together with ip, sp and bp, the reads of an unwind determine its result.
struct StackRead {
    int64_t offset;
    std::optional<uint64_t> value;
    bool operator==(const StackRead&) const = default;
};

struct UnwindStats {
    uint64_t unwinds = 0;    // full libdwfl unwinds
    uint64_t memo_hits = 0;  // samples answered from an earlier unwind
    uint64_t failures = 0;   // samples that gave no frame
};

// The unwinder of one process: the CFI of its files, loaded once, and unwinds memoized. The
// result of an unwind depends only on ip, sp, bp and the stack words the unwinder read, so a
// later sample with the same registers and words gets the same frames without unwinding: a
// code path opening 50,000 sockets a second is unwound once per thread and call depth.
class ProcessUnwinder {
  public:
    // nullopt-like null when no mapped file could be loaded.
    static std::unique_ptr<ProcessUnwinder> create(pid_t pid, const ProcessMaps& maps);
    ~ProcessUnwinder();
    ProcessUnwinder(const ProcessUnwinder&) = delete;
    ProcessUnwinder& operator=(const ProcessUnwinder&) = delete;

    // Instruction pointers, innermost first: where the thread was, then return addresses. At
    // most `max_frames`. Empty when not even the first frame is known. `reads`, when given,
    // receives the stack words the frames depend on: what the unwind read, less the saved
    // registers that are no return address when the same frames come out with them changed.
    std::vector<uint64_t> unwind(const StackSample& sample, size_t max_frames, UnwindStats& stats,
                                 std::vector<StackRead>* reads = nullptr);

    struct Impl;

  private:
    explicit ProcessUnwinder(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Unwinders of the processes seen lately, created on first use from their mappings snapshot.
class DwarfUnwinder {
  public:
    using ProcessKey = std::pair<uint32_t, uint64_t>;  // pid, start time

    explicit DwarfUnwinder(size_t max_processes = 64) : max_processes_(max_processes) {}

    std::vector<uint64_t> unwind(ProcessKey process, const ProcessMaps& maps,
                                 const StackSample& sample, size_t max_frames,
                                 std::vector<StackRead>* reads = nullptr);
    const UnwindStats& stats() const { return stats_; }

  private:
    size_t max_processes_;
    UnwindStats stats_;
    std::list<ProcessKey> recent_;  // most recent first
    std::map<ProcessKey,
             std::pair<std::unique_ptr<ProcessUnwinder>, std::list<ProcessKey>::iterator>>
        unwinders_;  // null unwinder: the process's files could not be loaded
};

}  // namespace cwtrace
