#include "golang/go_creators.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>

#include "owners/owners.h"

namespace cwtrace {
namespace {

uint64_t ns_per_tick() {
    const long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? 1'000'000'000ULL / static_cast<uint64_t>(hz) : 10'000'000ULL;
}

// The pcs of one ancestor from the frame that ran the go statement (`gopc`) outwards; all of
// them when it is not among them.
void add_stack(const cw_go_ancestor& a, uint64_t gopc, uint8_t generation,
               std::vector<CreatorPc>& out) {
    const uint32_t depth = std::min<uint32_t>(a.depth, CW_GO_MAX_PCS);
    const __u64* begin = a.pcs;
    const __u64* end = a.pcs + depth;
    const __u64* from = std::find(begin, end, gopc);
    if (from == end) from = begin;
    for (const __u64* pc = from; pc != end; ++pc) out.push_back({*pc, generation});
}

}  // namespace

std::vector<CreatorPc> creator_pcs(const cw_go_creator& c) {
    std::vector<CreatorPc> out;
    const uint32_t ancestors = std::min<uint32_t>(c.ancestors, CW_GO_MAX_ANCESTORS);
    if (ancestors == 0) {
        if (c.gopc) out.push_back({c.gopc, 1});
        return out;
    }
    uint64_t gopc = c.gopc;
    for (uint32_t i = 0; i < ancestors; ++i) {
        const cw_go_ancestor& a = c.ancestor[i];
        const auto generation = static_cast<uint8_t>(i + 1);
        add_stack(a, gopc, generation, out);
        if (a.main) break;
        gopc = a.gopc;
        // Its creator's stack was not kept (tracebackancestors=1, or past our bound): where it
        // was created, as Go's own tracebacks say "created by".
        if (i + 1 == ancestors && gopc) out.push_back({gopc, static_cast<uint8_t>(i + 2)});
    }
    return out;
}

std::optional<cw_go_proc> GoTracker::inspect(pid_t pid, uint64_t start, const ProcessMaps& maps) {
    std::optional<GoProgram> go = find_go(maps);
    auto& known = processes_[{static_cast<uint32_t>(pid), start}];
    const bool news = !known.has_value() && go.has_value();
    known = go;
    if (!go) return std::nullopt;
    if (!go->offsets) {
        if (news)
            spdlog::warn(
                "pid {} runs a program built by {} ({}), not supported: no goroutine "
                "creators for it",
                pid, go->version, go->path);
        return std::nullopt;
    }
    if (news) spdlog::debug("pid {}: Go program built by {}", pid, go->version);
    cw_go_proc entry{};
    entry.start_ticks = start;
    entry.ns_per_tick = ns_per_tick();
    entry.text_start = go->text_start;
    entry.text_end = go->text_end;
    entry.g_goid = go->offsets->g_goid;
    entry.g_gopc = go->offsets->g_gopc;
    entry.g_ancestors = go->offsets->g_ancestors;
    entry.ancestor_size = go->offsets->ancestor_size;
    entry.ancestor_goid = go->offsets->ancestor_goid;
    entry.ancestor_gopc = go->offsets->ancestor_gopc;
    return entry;
}

}  // namespace cwtrace
