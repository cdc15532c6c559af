// libFuzzer target: /proc/PID/maps text, whose paths a process chooses, parsed under small
// limits. Mappings must come out sorted, non-empty, within the cap, their paths interned and
// found by find().
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "fuzz_check.h"
#include "symbols/usyms.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace cwtrace;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    MapsLimits limits;
    limits.max_mappings = 32;
    ProcessMaps maps = ProcessMaps::parse(text, limits);
    const auto& all = maps.mappings();
    check(all.size() <= limits.max_mappings);
    check(maps.table().paths.size() <= all.size());
    uint64_t previous = 0;
    for (const Mapping& m : all) {
        check(m.start < m.end && m.start >= previous);
        previous = m.start;
        check(!m.path.empty() && m.path.front() == '/');
        check(maps.table().paths.count(std::string(m.path)) == 1);
        const Mapping* found = maps.find(m.start);
        check(found && found->start <= m.start && m.start < found->end);
        check(maps.open_path(m).empty() == m.deleted);
    }
    return 0;
}
