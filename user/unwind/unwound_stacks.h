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
    // The opening of socket `sk` at `opened_ns` (its cw_origin.opened_ns) had stack `ips`. The
    // kernel reuses a freed socket's memory: of the openings at one address the last two are
    // kept, as the leave of the earlier socket may be read after the later one's copy (quick
    // leaves and copies come through rings of their own). Returns the stack's interned id
    // (stable: ids are never reused).
    uint32_t add(uint64_t sk, uint64_t opened_ns, const std::vector<uint64_t>& ips);

    // The interned id of the stack of that opening, or nullopt (never unwound, or two later
    // openings at its address since).
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
    struct Openings {
        Opening latest = {0, 0};
        Opening previous = {0, 0};  // opened_ns 0: none (an opening's time is never 0)
    };
    std::unordered_map<uint64_t, Openings> by_socket_;
    std::map<std::vector<uint64_t>, uint32_t> ids_;
    std::vector<std::vector<uint64_t>> stacks_;
};

}  // namespace cwtrace
