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

#include "symbols/usyms.h"
#include "util/untrusted_file.h"

namespace cwtrace {

// What a perf map may weigh: Node's --perf-basic-prof map of a long-running server reaches tens
// of MB; past these the whole map is refused (a part would hold stale names), and counted.
struct PerfMapLimits {
    uint64_t max_bytes = 64 << 20;
    size_t max_entries = 1 << 20;
    size_t max_name_bytes = 1024;  // longer names are cut
};

class PerfMap {
  public:
    // Malformed lines are skipped. When entries overlap (a JIT reused freed code memory), the
    // later line wins: it describes the code there now. nullopt past limits.max_entries.
    static std::optional<PerfMap> parse(std::string_view text, const PerfMapLimits& limits = {});
    // The map at `path`, read as untrusted_file.h says with `rules` (max_bytes from `limits`);
    // nullopt when absent, refused or unreadable.
    static std::optional<PerfMap> load(const std::string& path, FileRules rules = {},
                                       const PerfMapLimits& limits = {});
    // The map of the process `maps` describes, by perf's rule: a regular file owned by root or
    // the process's user (another user's planted /tmp/perf-PID.map is not its), never through a
    // symlink, found in the process's own /tmp (/proc/PID/root/tmp/perf-NSPID.map: a container
    // names itself by its namespace's pid) while it lives, else in ours if it shared our mount
    // namespace. `alive`: the caller checked that the pid is still that process's.
    static std::optional<PerfMap> load(const ProcessMaps& maps, bool alive,
                                       const PerfMapLimits& limits = {});
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

// A perf map's name as the runtime's own stack traces write it. HotSpot's methods read
// "LeakyJava.openConnection", as in a Java stack trace, whether `jcmd PID Compiler.perfmap`
// wrote "java.net.Socket LeakyJava.openConnection(int)" (return type, method, parameters) or
// perf-map-agent "LLeakyJava;::openConnection"; every other name stays as written.
std::string display_name(std::string_view name);
// Whether `name` is a Java method as display_name shows one: identifiers joined by dots.
bool java_method_name(std::string_view name);

}  // namespace cwtrace
