// Where libdwfl may look for separate debug files, for the files processes map. Its standard
// search opens, with a blocking open(2) as root, the debuglink name beside the mapped file and
// in the file's own .debug/ (directories the process's user may own), and libdw opens a
// .gnu_debugaltlink path relative to the file's directory: a FIFO planted there would freeze
// cwtrace. These look only under the debug root (/usr/lib/debug, root's), through
// untrusted_file.h.
#pragma once

#include <elfutils/libdwfl.h>

#include <string>

namespace cwtrace {

// The debug files of the largest programs (a browser's) are a few GB.
inline constexpr uint64_t kMaxDebugFileBytes = uint64_t{8} << 30;

// A build-id's bytes as the hex that names its debug file.
std::string to_hex(const unsigned char* bytes, size_t n);

// A find_debuginfo callback: the build-id path, then a debuglink name without '/', under the
// debug root set on the module by use_debug_root().
int find_debug_file(Dwfl_Module* mod, void** userdata, const char* modname, GElf_Addr base,
                    const char* file_name, const char* debuglink_file, GElf_Word debuglink_crc,
                    char** debuginfo_file_name);

// Makes find_debug_file search `root` for `mod`; `root` must outlive the module.
void use_debug_root(Dwfl_Module* mod, const std::string* root);

// Whether libdw may be given this ELF: it has no .gnu_debugaltlink, or one naming an absolute
// path under /usr/lib/debug (libdw opens that path itself, outside any callback).
bool altlink_is_safe(Elf* elf);

}  // namespace cwtrace
