// Finding a Go program in a process: the version its binary was built with (its .go.buildinfo
// section) and where its code is mapped, which the kernel side needs to read its goroutines.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "golang/go_offsets.h"
#include "symbols/usyms.h"

namespace cwtrace {

// Reads `size` bytes of the binary at virtual address `vaddr`; nullopt when it cannot.
using VaddrReader = std::function<std::optional<std::string>(uint64_t vaddr, size_t size)>;

// The version string in a .go.buildinfo section ("\xff Go buildinf:" header): inline after the
// 32-byte header since Go 1.18 (flags bit 2), before that behind a pointer to runtime.buildVersion
// that `read` follows. nullopt: not a build info section, or one that does not hold together.
std::optional<std::string> go_buildinfo_version(std::string_view section, const VaddrReader& read);

struct GoProgram {
    std::string path;                       // the executable, as the process maps it
    std::string version;                    // "go1.19.8"
    uint64_t text_start = 0, text_end = 0;  // its executable mappings in the process
    std::optional<GoOffsets> offsets;       // nullopt: a version cwtrace has no offsets for
};

// The Go program process `maps` runs (its executable, /proc/PID/exe, built by Go), or nullopt.
std::optional<GoProgram> find_go(const ProcessMaps& maps);

}  // namespace cwtrace
