// Where a goroutine's fields are in runtime.g, by the Go version the binary was built with.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace cwtrace {

struct GoVersion {
    int major = 0, minor = 0;
    bool operator==(const GoVersion&) const = default;
};

// "go1.19.8", "go1.21rc2", "go1.22.0 X:boringcrypto" -> {1, 19}...; nullopt for anything else
// ("devel +abc", garbage).
std::optional<GoVersion> parse_go_version(std::string_view text);

struct GoOffsets {
    uint16_t g_goid = 0, g_gopc = 0, g_ancestors = 0;
    // runtime.ancestorInfo {pcs []uintptr; goid int64; gopc uintptr}: the same in every version.
    uint16_t ancestor_size = 40, ancestor_goid = 24, ancestor_gopc = 32;
};

// The offsets of Go 1.17 to 1.23 on 64-bit targets; nullopt for another version, whose g may
// be laid out otherwise: no creator then, rather than a wrong one.
std::optional<GoOffsets> go_offsets_for(GoVersion version);

}  // namespace cwtrace
