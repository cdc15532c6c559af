// A map of bounded size that drops its least recently used entry when full: caches of what
// processes make (files they map, code objects) grow with whatever a local user runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <unordered_map>
#include <utility>

namespace cwtrace {

template <typename K, typename V, typename Hash = std::hash<K>>
class LruCache {
  public:
    explicit LruCache(size_t capacity) : capacity_(capacity ? capacity : 1) {}

    // The entry, now the most recent; nullptr when absent.
    V* find(const K& key) {
        auto it = index_.find(key);
        if (it == index_.end()) return nullptr;
        items_.splice(items_.begin(), items_, it->second);
        return &it->second->second;
    }

    // Adds (or replaces) an entry as the most recent, dropping the least recent when full.
    V& insert(const K& key, V value) {
        if (V* existing = find(key)) return *existing = std::move(value);
        if (items_.size() >= capacity_) {
            index_.erase(items_.back().first);
            items_.pop_back();
            ++evictions_;
        }
        items_.emplace_front(key, std::move(value));
        index_.emplace(key, items_.begin());
        return items_.front().second;
    }

    template <typename Pred>
    void erase_if(Pred pred) {
        for (auto it = items_.begin(); it != items_.end();) {
            if (pred(it->first, it->second)) {
                index_.erase(it->first);
                it = items_.erase(it);
            } else {
                ++it;
            }
        }
    }

    size_t size() const { return items_.size(); }
    uint64_t evictions() const { return evictions_; }

  private:
    size_t capacity_;
    uint64_t evictions_ = 0;
    std::list<std::pair<K, V>> items_;  // most recent first
    std::unordered_map<K, typename std::list<std::pair<K, V>>::iterator, Hash> index_;
};

}  // namespace cwtrace
