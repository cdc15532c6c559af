// Dwarf-mode stacks unwound on receipt, kept per socket until a report asks for them. Stacks are
// interned: 100,000 sockets opened by one code path hold one copy of its frames.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

namespace cwtrace {

class UnwoundStacks {
  public:
    // The opening of socket `sk` at `opened_ns` (its cw_origin.opened_ns) had stack `ips`. A
    // later opening at the same address replaces it: the kernel reused a freed socket's memory.
    // Returns the stack's interned id (stable: ids are never reused).
    uint32_t add(uint64_t sk, uint64_t opened_ns, const std::vector<uint64_t>& ips);

    // The interned id of the stack of that opening, or nullopt (never unwound, or replaced).
    std::optional<uint32_t> find(uint64_t sk, uint64_t opened_ns) const;
    const std::vector<uint64_t>& stack(uint32_t id) const { return stacks_.at(id); }
    bool has_stack(uint32_t id) const { return id < stacks_.size(); }

    size_t sockets() const { return by_socket_.size(); }
    size_t distinct_stacks() const { return stacks_.size(); }

  private:
    struct Opening {
        uint64_t opened_ns;
        uint32_t stack_id;
    };
    std::unordered_map<uint64_t, Opening> by_socket_;
    std::map<std::vector<uint64_t>, uint32_t> ids_;
    std::vector<std::vector<uint64_t>> stacks_;
};

}  // namespace cwtrace
