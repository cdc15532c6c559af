// Finding a CPython interpreter in a process and reading its objects from outside: where
// _PyRuntime is, which version it is, and what a code object says (name, file, line table).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "python/python_offsets.h"
#include "symbols/usyms.h"
#include "util/lru_cache.h"

namespace cwtrace {

struct PythonInterpreter {
    PythonVersion version;
    std::string path;                      // the python binary or libpython mapped
    uint64_t runtime_addr = 0;             // &_PyRuntime in the process
    std::optional<PythonOffsets> offsets;  // nullopt: a version cwtrace does not support
};

// Where _PyRuntime is in each python file, read once per path (a python binary's symbol table
// is large and every Python process maps the same one).
class PythonFiles {
  public:
    struct Layout;
    explicit PythonFiles(size_t max_files = 64) : cache_(max_files) {}
    // The layout of the file `m` maps; nullptr: no _PyRuntime there.
    const Layout* get(const ProcessMaps& maps, const Mapping& m);

  private:
    LruCache<std::string, std::shared_ptr<const Layout>> cache_;  // by ProcessMaps::file_key
};

// The CPython interpreter among the executable mappings of a process, or nullopt when it has
// none (or its _PyRuntime symbol cannot be found).
std::optional<PythonInterpreter> find_python(const ProcessMaps& maps, PythonFiles& files);

// Reads another process's memory (process_vm_readv), under the hang guard's budget.
class ProcessMemory {
  public:
    explicit ProcessMemory(pid_t pid) : pid_(pid) {}
    bool read(uint64_t addr, void* out, size_t size) const;
    std::optional<uint64_t> read_u64(uint64_t addr) const;
    // A read got no answer in time (counted as a slow refusal); every later one fails at once.
    bool hung() const { return hung_; }

  private:
    pid_t pid_;
    mutable bool hung_ = false;
};

// What the report needs of a code object.
struct PythonCode {
    std::string qualname;  // "Crawler.fetch_page"
    std::string filename;  // co_filename, as the interpreter was given it
    int first_line = 0;
    std::vector<uint8_t> line_table;
};

std::optional<PythonCode> read_python_code(const ProcessMemory& memory,
                                           const PythonOffsets& offsets, uint64_t code_addr);

// A str object's text as UTF-8 (compact strings only, as code objects hold), or nullopt.
std::optional<std::string> read_python_str(const ProcessMemory& memory,
                                           const PythonOffsets& offsets, uint64_t str_addr);

}  // namespace cwtrace
