// The kernel's stack map (BPF_MAP_TYPE_STACK_TRACE, no BPF_F_REUSE_STACKID) keeps every stack
// until userspace deletes it: without deletions, once its buckets are taken every later stack
// is lost for the rest of the run, and any user can make many distinct stacks. The stacks that
// nothing refers to any more (no tracked socket, no opener in the kernel's origins map, no
// pending close) are deleted before it fills. A later stack may then take a deleted id, so a
// thread captured before its id was deleted and naming it is counted lost, never shown with
// the new stack (StackIdLedger).
#pragma once

#include <linux/types.h>

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace cwtrace {

// Which stack ids were deleted, and when.
class StackIdLedger {
  public:
    void deleted(int32_t id, uint64_t at_ns) { deleted_at_[id] = at_ns; }
    // Whether `id`, captured at `captured_ns` (kernel CLOCK_MONOTONIC), may name another stack
    // now: it was deleted after the capture.
    bool stale(int32_t id, uint64_t captured_ns) const {
        auto it = deleted_at_.find(id);
        return id >= 0 && it != deleted_at_.end() && captured_ns <= it->second;
    }

  private:
    std::unordered_map<int32_t, uint64_t> deleted_at_;  // at most one per bucket of the map
};

// The ids of `present` that `referenced` does not hold, in order.
std::vector<int32_t> unreferenced_ids(const std::vector<int32_t>& present,
                                      const std::unordered_set<int32_t>& referenced);

// The maps involved (Tracer::stack_maps()).
struct StackMaps {
    int stacks = -1;        // the stack map
    int kernel_paths = -1;  // a cache naming kernel stack ids by user stack id
    uint32_t capacity = 0;  // the stack map's max_entries
    // The programs' stack_generation (bpf/maps.bpf.h, mapped): frame-pointer memos and
    // kernel_paths entries name stack ids, and answer only in the generation they were made in.
    uint32_t* generation = nullptr;
    // The programs' stack_generation_ns: when the deletions that began the generation were
    // counted done (StackIdLedger's time for them).
    __u64* generation_ns = nullptr;  // the skeleton's type
};

// The ids in the stack map now.
std::vector<int32_t> stack_ids(int stacks_fd);

// Deletes `ids` from the stack map, and first every entry of the kernel_paths cache (it names
// kernel stack ids: it refills at the next openings); then starts a new generation, which every
// frame-pointer memo and kernel_paths entry made before it (naming ids that may be gone: an
// opening racing the deletions may store one after the emptying) is not of. Returns how many
// stacks went.
size_t delete_stacks(const StackMaps& maps, const std::vector<int32_t>& ids);

// Tells the programs the time `at_ns` the ledger counts the last deletions at (taken after
// delete_stacks() returned): an opening that read it before it read the new generation came
// after it, and may say so of a stack id a memo of that generation named.
void publish_deletion_time(const StackMaps& maps, uint64_t at_ns);

}  // namespace cwtrace
