// DWARF for user frames: file:line, and function names for files stripped of .symtab, from the
// file itself or from its separate debug file found by build-id (/usr/lib/debug/.build-id/xx/
// yyyy.debug, as installed by Debian's -dbgsym packages) or .gnu_debuglink. Loaded once per
// build-id: copies of a library under several paths, or in several containers, share it.
// Separate debug files are looked for under the debug root only (debug_files.h).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "model/report.h"
#include "util/lru_cache.h"
#include "util/untrusted_file.h"

namespace cwtrace {

// The most an ELF file mapped by a process may weigh to be read (libxul.so: 150 MB).
inline constexpr uint64_t kMaxElfFileBytes = uint64_t{1} << 30;

// The GNU build-id of an ELF file, else (a Go binary built without one) the bytes of its Go
// build id ("go tool buildid" prints them), in hex; nullopt when it has neither or is not ELF.
std::optional<std::string> read_build_id(const std::string& path);
std::optional<std::string> read_build_id(int fd);

struct SourceLocation {
    std::string file;
    uint32_t line = 0;
};

// The DWARF of one ELF file.
class DebugInfo {
  public:
    // `debug_root` is where separate debug files are searched (build-id, debuglink). Null when
    // the file cannot be read as ELF.
    static std::unique_ptr<DebugInfo> load(const std::string& path, const std::string& debug_root);
    // The file open at `file` (taken over), named `name` as its process names it.
    static std::unique_ptr<DebugInfo> load(UntrustedFile file, const std::string& name,
                                           const std::string& debug_root);
    ~DebugInfo();
    DebugInfo(const DebugInfo&) = delete;
    DebugInfo& operator=(const DebugInfo&) = delete;

    // At the ELF virtual address `vaddr` of the file.
    std::optional<SourceLocation> source(uint64_t vaddr) const;
    std::optional<std::string> function(uint64_t vaddr) const;  // from the debug file's .symtab

    struct Impl;

  private:
    explicit DebugInfo(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// DebugInfo per build-id (per file for files without one), and what it said per address; the
// least recently used are dropped past `max_files`.
class DebugInfoCache {
  public:
    explicit DebugInfoCache(std::string debug_root = "/usr/lib/debug", size_t max_files = 128)
        : debug_root_(std::move(debug_root)), infos_(max_files) {}

    // The key of the file open at `file` (its build-id, else `fallback_key`), its DWARF loaded
    // on first sight; `name` is the path its process names it by.
    std::string identify(const UntrustedFile& file, const std::string& name,
                         const std::string& fallback_key);
    // A key identify() gave: whether it is a build-id (hex), not a fallback.
    static bool is_build_id(const std::string& key) { return !key.starts_with(kFallbackPrefix); }
    // Adds file and line to `frame` for `vaddr` in the file identified as `key`, and the
    // function when `frame` has none ("[unknown]").
    void annotate_identified(const std::string& key, uint64_t vaddr, Frame& frame);
    // Both, for a file at `path` (opened as untrusted_file.h says).
    void annotate(const std::string& path, uint64_t vaddr, Frame& frame);

  private:
    static constexpr std::string_view kFallbackPrefix = "file:";
    struct Answer {
        std::optional<std::string> function;
        std::optional<SourceLocation> source;
    };
    struct Entry {
        std::unique_ptr<DebugInfo> info;  // null: no DWARF
        std::unordered_map<uint64_t, Answer> answers;
    };

    std::string debug_root_;
    LruCache<std::string, Entry> infos_;
};

}  // namespace cwtrace
