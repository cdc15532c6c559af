#include "sockets/socket_slots.h"

#include <utility>

namespace cwtrace {

TrackedSocket* SocketSlots::find(uint64_t key) {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &slots_[it->second];
}

const TrackedSocket* SocketSlots::find(uint64_t key) const {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &slots_[it->second];
}

TrackedSocket& SocketSlots::insert(TrackedSocket socket) {
    index_.emplace(socket.key, static_cast<uint32_t>(slots_.size()));
    return slots_.emplace_back(std::move(socket));
}

bool SocketSlots::erase(uint64_t key) {
    auto it = index_.find(key);
    if (it == index_.end()) return false;
    const uint32_t slot = it->second;
    index_.erase(it);
    if (slot + 1 != slots_.size()) {
        slots_[slot] = std::move(slots_.back());
        index_[slots_[slot].key] = slot;
    }
    slots_.pop_back();
    return true;
}

}  // namespace cwtrace
