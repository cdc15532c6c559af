#include "kernel/stack_recycler.h"

#include <bpf/bpf.h>

#include <atomic>

#include "cwtrace/abi.h"

namespace cwtrace {
namespace {

// Every key of a map, read with get_next_key (a map being written meanwhile may skip or repeat
// one: the callers tolerate both).
template <typename Key>
std::vector<Key> keys_of(int fd, size_t limit) {
    std::vector<Key> keys;
    Key key{}, next{};
    const Key* at = nullptr;
    while (keys.size() < limit && bpf_map_get_next_key(fd, at, &next) == 0) {
        keys.push_back(next);
        key = next;
        at = &key;
    }
    return keys;
}

}  // namespace

std::vector<int32_t> unreferenced_ids(const std::vector<int32_t>& present,
                                      const std::unordered_set<int32_t>& referenced) {
    std::vector<int32_t> out;
    for (int32_t id : present)
        if (!referenced.count(id)) out.push_back(id);
    return out;
}

std::vector<int32_t> stack_ids(int stacks_fd) {
    std::vector<int32_t> ids;
    for (uint32_t id : keys_of<uint32_t>(stacks_fd, UINT32_MAX))
        ids.push_back(static_cast<int32_t>(id));
    return ids;
}

size_t delete_stacks(const StackMaps& maps, const std::vector<int32_t>& ids) {
    // Its keys are struct kernel_path_key (bpf/maps.bpf.h): read as bytes, never interpreted.
    bpf_map_info info = {};
    uint32_t len = sizeof info;
    if (maps.kernel_paths >= 0 && bpf_obj_get_info_by_fd(maps.kernel_paths, &info, &len) == 0) {
        std::vector<unsigned char> first(info.key_size);
        // Bounded: the programs may add entries while they go.
        for (uint64_t n = 0; n < 2ull * info.max_entries; ++n)
            if (bpf_map_get_next_key(maps.kernel_paths, nullptr, first.data()) != 0 ||
                bpf_map_delete_elem(maps.kernel_paths, first.data()) != 0)
                break;
    }
    size_t deleted = 0;
    for (int32_t id : ids) {
        const uint32_t key = static_cast<uint32_t>(id);
        if (bpf_map_delete_elem(maps.stacks, &key) == 0) ++deleted;
    }
    // After the deletions, never before: a walk that reads the new generation then got its
    // stack id after them. One that read the old one made a memo that answers nothing now, and
    // an opening answered by it before this point was captured before the deletions (the
    // caller's StackIdLedger counts it lost).
    if (maps.generation) std::atomic_ref<uint32_t>(*maps.generation).fetch_add(1);
    return deleted;
}

void publish_deletion_time(const StackMaps& maps, uint64_t at_ns) {
    if (maps.generation_ns)
        std::atomic_ref<__u64>(*maps.generation_ns).store(at_ns, std::memory_order_release);
}

}  // namespace cwtrace
