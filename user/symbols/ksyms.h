// Kernel symbolization: addresses from /proc/kallsyms.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cwtrace {

// Kernel text symbols, sorted by address. Frames that fall in no symbol print "[unknown]".
class KernelSymbols {
  public:
    // Parses kallsyms-format text ("ffffffff81000000 T _stext").
    static KernelSymbols parse(std::string_view kallsyms_text);
    // Reads /proc/kallsyms (or `path`); empty table on failure (and every lookup misses).
    static KernelSymbols load(const std::string& path = "/proc/kallsyms");

    // The function containing `addr`, or nullopt.
    std::optional<std::string> lookup(uint64_t addr) const;
    size_t size() const { return syms_.size(); }

  private:
    struct Sym {
        uint64_t addr;
        std::string name;
    };
    std::vector<Sym> syms_;
};

}  // namespace cwtrace
