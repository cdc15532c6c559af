// DWARF for user frames: file:line, and function names for files stripped of .symtab, from the
// file itself or from its separate debug file found by build-id (/usr/lib/debug/.build-id/xx/
// yyyy.debug, as installed by Debian's -dbgsym packages) or .gnu_debuglink. Loaded once per
// build-id: copies of a library under several paths, or in several containers, share it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "model/report.h"

namespace cwtrace {

// The GNU build-id of an ELF file, in hex; nullopt when it has none or is not ELF.
std::optional<std::string> read_build_id(const std::string& path);

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

// DebugInfo per build-id (per path for files without one), and what it said per address.
class DebugInfoCache {
  public:
    explicit DebugInfoCache(std::string debug_root = "/usr/lib/debug")
        : debug_root_(std::move(debug_root)) {}

    // Adds file and line to `frame` for `vaddr` in `path`, and the function when `frame` has
    // none ("[unknown]").
    void annotate(const std::string& path, uint64_t vaddr, Frame& frame);

  private:
    struct Answer {
        std::optional<std::string> function;
        std::optional<SourceLocation> source;
    };
    const DebugInfo* info_for(const std::string& path, std::string& identity);

    std::string debug_root_;
    std::unordered_map<std::string, std::string> identity_;  // path -> build-id (or path)
    std::unordered_map<std::string, std::unique_ptr<DebugInfo>> infos_;  // null: no DWARF
    std::unordered_map<std::string, std::unordered_map<uint64_t, Answer>> answers_;
};

}  // namespace cwtrace
