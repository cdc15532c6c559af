// libFuzzer target: a perf map, as any user may write one at /tmp/perf-PID.map, parsed under
// small limits. Every parse must respect them, and every lookup must name a line's own name,
// shown (display_name) as no more than it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "fuzz_check.h"
#include "symbols/perf_map.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace cwtrace;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    PerfMapLimits limits;
    limits.max_entries = 64;
    limits.max_name_bytes = 16;
    auto map = PerfMap::parse(text, limits);
    if (!map) return 0;
    check(map->size() <= limits.max_entries);
    // Probe the addresses the input's own first fields name, and around them.
    for (size_t i = 0; i + 8 <= size && i < 256; i += 8) {
        uint64_t addr = 0;
        for (size_t b = 0; b < 8; ++b) addr |= uint64_t{data[i + b]} << (8 * b);
        for (uint64_t probe : {addr, addr - 1, addr + 1}) {
            if (auto name = map->lookup(probe)) {
                check(!name->empty() && name->size() <= limits.max_name_bytes);
                check(text.find(*name) != std::string_view::npos);
                // What a report shows of it is a part of it, never more.
                check(display_name(*name).size() <= name->size());
            }
        }
    }
    return 0;
}
