// User-space symbolization: addresses from the ELF symbol tables of the files a process maps.
// Snapshots of a process's mappings are taken while it
// lives; ELF symbol tables are cached per file, so an opener that has exited still resolves.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/report.h"
#include "symbols/debug_info.h"

namespace cwtrace {

// One file-backed executable mapping from /proc/PID/maps.
struct Mapping {
    uint64_t start = 0, end = 0;  // [start, end)
    uint64_t file_offset = 0;
    std::string path;
};

// The executable mappings of one process at one moment.
class ProcessMaps {
  public:
    static ProcessMaps parse(std::string_view maps_text);
    // Reads /proc/PID/maps; nullopt when the process is gone or unreadable.
    static std::optional<ProcessMaps> read(pid_t pid);

    const Mapping* find(uint64_t addr) const;
    const std::vector<Mapping>& mappings() const { return maps_; }
    // Where the mapped paths are opened from: "" for a process that sees our files, or
    // "/proc/PID/root" for one in another mount namespace (a container), whose paths name files
    // of its own root; reachable while it lives.
    const std::string& root() const { return root_; }
    std::string open_path(const Mapping& m) const { return root_ + m.path; }

  private:
    std::vector<Mapping> maps_;  // sorted by start
    std::string root_;
};

// Function symbols of one ELF file (.symtab, else .dynsym), by virtual address.
class ElfSymbols {
  public:
    // nullopt when the file cannot be opened or is not ELF.
    static std::optional<ElfSymbols> load(const std::string& path);

    // Translates a file offset (from a mapping) to the ELF virtual address, via PT_LOAD headers.
    std::optional<uint64_t> offset_to_vaddr(uint64_t file_offset) const;
    // The function containing virtual address `vaddr`, or nullopt.
    std::optional<std::string> lookup(uint64_t vaddr) const;

  private:
    struct Sym {
        uint64_t addr, size;
        std::string name;
    };
    struct Segment {
        uint64_t offset, vaddr, filesz;
    };
    std::vector<Sym> syms_;  // sorted by addr
    std::vector<Segment> segments_;
};

// Resolves user addresses of any process, caching ELF tables per file path.
class UserSymbolizer {
  public:
    // `addr` is an address in the process described by `maps`. Returns the function (or
    // "[unknown]") and the module path (empty when no mapping covers the address).
    Frame symbolize(const ProcessMaps& maps, uint64_t addr);

  private:
    std::unordered_map<std::string, std::shared_ptr<const ElfSymbols>> cache_;  // null: unloadable
    DebugInfoCache debug_info_;  // file:line, and names from separate debug files
};

}  // namespace cwtrace
