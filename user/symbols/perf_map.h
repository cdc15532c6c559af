// JIT symbols a process publishes in /tmp/perf-PID.map, one "START SIZE name" line per piece of
// generated code (START and SIZE in hex): Node --perf-basic-prof, Python 3.12 -X perf, Java
// agents. Code in anonymous memory has no file to read symbols from; this names it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cwtrace {

class PerfMap {
  public:
    // Malformed lines are skipped. When entries overlap (a JIT reused freed code memory), the
    // later line wins: it describes the code there now.
    static PerfMap parse(std::string_view text);
    // nullopt when the file is absent or unreadable.
    static std::optional<PerfMap> load(const std::string& path);
    static std::string path_for(pid_t pid);  // "/tmp/perf-PID.map"

    std::optional<std::string> lookup(uint64_t addr) const;
    size_t size() const { return entries_.size(); }

  private:
    struct Entry {
        uint64_t start, size;
        size_t line;  // order in the file
        std::string name;
    };
    std::vector<Entry> entries_;  // sorted by start, then line
};

}  // namespace cwtrace
