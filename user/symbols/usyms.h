// User-space symbolization: addresses from the ELF symbol tables of the files a process maps,
// and Go code from its binary's pclntab (stripped or not).
// Snapshots of a process's mappings are taken while it
// lives; ELF symbol tables are cached per file, so an opener that has exited still resolves.
// Every file is opened as untrusted_file.h says, and checked to be the one the process maps.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "model/report.h"
#include "symbols/debug_info.h"
#include "symbols/go_pclntab.h"
#include "util/lru_cache.h"
#include "util/untrusted_file.h"

namespace cwtrace {

// One file-backed executable mapping from /proc/PID/maps.
struct Mapping {
    uint64_t start = 0, end = 0;  // [start, end)
    uint64_t file_offset = 0;
    std::string_view path;  // as the process names it, without " (deleted)"; see MappingTable
    FileIdentity file;      // the maps line's dev:inode: what any file opened for it must be
    bool deleted = false;   // the path names another file now, or none: never opened
};

// What bounds a snapshot of /proc/PID/maps: a process decides how many mappings it has (65,000
// of one file take 230 MB of maps text under a 3.5 KB path).
struct MapsLimits {
    size_t max_bytes = 8 << 20;  // of maps text read
    size_t max_mappings = 8192;  // executable file mappings kept
};

// The executable mappings of one address space, their paths interned: forks with the same
// mappings share one table (see ProcessMapsReader).
struct MappingTable {
    MappingTable() = default;
    MappingTable(const MappingTable&) = delete;  // its mappings view its own paths
    MappingTable& operator=(const MappingTable&) = delete;

    std::vector<Mapping> maps;              // sorted by start
    std::unordered_set<std::string> paths;  // what Mapping::path views
    bool truncated = false;                 // the text or the mappings went past MapsLimits
    bool same_as(const MappingTable& other) const;
};

// The executable mappings of one process at one moment, and what its files are opened with.
class ProcessMaps {
  public:
    static ProcessMaps parse(std::string_view maps_text, const MapsLimits& limits = {});
    // Reads /proc/PID/maps (at most limits.max_bytes of it) and the process's identity (uids,
    // NSpid, mount namespace); nullopt when the process is gone or unreadable.
    static std::optional<ProcessMaps> read(pid_t pid, const MapsLimits& limits = {});

    const Mapping* find(uint64_t addr) const;
    const std::vector<Mapping>& mappings() const { return table_->maps; }
    const MappingTable& table() const { return *table_; }
    // Where the mapped paths are opened from: "" for a process that sees our files, or
    // "/proc/PID/root" for one in another mount namespace (a container), whose paths name files
    // of its own root; reachable while it lives.
    const std::string& root() const { return root_; }
    // The path a mapping's file is found at now, for readers without ProcessMaps (call sites):
    // "" for a deleted file. open_file() is the checked way.
    std::string open_path(const Mapping& m) const {
        return m.deleted ? std::string() : root_ + std::string(m.path);
    }
    // The mapped file itself: through /proc/PID/map_files while the process lives (the very
    // file, even deleted), else at its path if that is still the same dev:inode.
    OpenedFile open_file(const Mapping& m, uint64_t max_bytes) const;
    // A key for caches of what is read from a mapped file: its dev:inode and path.
    static std::string file_key(const Mapping& m);

    pid_t pid() const { return pid_; }
    pid_t namespace_pid() const { return nspid_; }  // NSpid's last: the pid it knows itself by
    const std::vector<uid_t>& uids() const { return uids_; }  // real, effective, saved, fs

    // Another table with the same content (a fork's) in its place.
    void share_table(std::shared_ptr<const MappingTable> table) { table_ = std::move(table); }
    const std::shared_ptr<const MappingTable>& shared_table() const { return table_; }

  private:
    static ProcessMaps parse(std::string_view maps_text, const MapsLimits& limits, bool text_cut);

    std::shared_ptr<const MappingTable> table_ = std::make_shared<const MappingTable>();
    std::string root_;
    pid_t pid_ = 0, nspid_ = 0;
    std::vector<uid_t> uids_;
};

// Reads process maps, sharing one table between processes with the same mappings, and counts
// what the limits cut.
class ProcessMapsReader {
  public:
    explicit ProcessMapsReader(MapsLimits limits = {}) : limits_(limits) {}
    std::optional<ProcessMaps> read(pid_t pid);

    uint64_t truncated() const { return truncated_; }  // snapshots cut by MapsLimits
    uint64_t shared() const { return shared_; }        // snapshots that reused a table

  private:
    MapsLimits limits_;
    uint64_t truncated_ = 0, shared_ = 0;
    // By a hash of the content; weak: a table lives as long as a snapshot holds it.
    std::unordered_multimap<uint64_t, std::weak_ptr<const MappingTable>> tables_;
};

// Function symbols of one ELF file (.symtab, else .dynsym), by virtual address.
class ElfSymbols {
  public:
    // nullopt when the file cannot be opened or is not ELF.
    static std::optional<ElfSymbols> load(const std::string& path);
    static std::optional<ElfSymbols> load(int fd);

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

// Resolves user addresses of any process, caching ELF tables per file (dev:inode and path).
class UserSymbolizer {
  public:
    explicit UserSymbolizer(size_t max_files = 512, size_t max_go_tables = 32)
        : files_(max_files), go_tables_(max_go_tables) {}
    // `addr` is an address in the process described by `maps`. Returns its frames, innermost
    // first: one, but where the Go compiler inlined calls, each inlined function is a frame of
    // its own at its line, above the function it was inlined into at the outermost call's, as
    // Go's tracebacks list them. Each has the function (or "[unknown]") and the module path
    // (empty when no mapping covers the address).
    std::vector<Frame> symbolize_inlined(const ProcessMaps& maps, uint64_t addr);
    // The innermost of those: for a PC that stands for one frame, as those the Go runtime saves
    // for its tracebacks do (one per inlined call: the call, then its inline mark in the caller).
    Frame symbolize(const ProcessMaps& maps, uint64_t addr) {
        return std::move(symbolize_inlined(maps, addr).front());
    }
    uint64_t files_evicted() const { return files_.evictions(); }

  private:
    struct File {
        std::shared_ptr<const ElfSymbols> symbols;  // null: unloadable
        std::string debug_key;                      // its DebugInfoCache entry
        bool go = false;                            // has a pclntab (see go_tables_)
    };
    const File& file(const ProcessMaps& maps, const Mapping& m);
    // The Go table of a file with one, read again if it was dropped; null if it cannot be.
    std::shared_ptr<const GoPclntab> go_table(const ProcessMaps& maps, const Mapping& m);

    LruCache<std::string, File> files_;
    // Apart from files_ and fewer: a pclntab is megabytes where a symbol table of Go's stripped
    // binary is nothing.
    LruCache<std::string, std::shared_ptr<const GoPclntab>> go_tables_;
    DebugInfoCache debug_info_;  // file:line, and names from separate debug files
};

}  // namespace cwtrace
