// Merging socket groups by their first own frame (see own_groups.h).
#include "report/own_groups.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <tuple>

namespace cwtrace {
namespace {

// What makes two paths one leak: the own frame's function and where it is, how the socket was
// opened and by which program. A frame with a line is placed by its file; without one by its
// module (a native function without debug info, a perf map's name).
using OwnKey = std::tuple<std::string, std::string, int, OriginKind, std::optional<std::string>>;

std::optional<OwnKey> own_key(const SocketGroup& g) {
    if (g.held || !g.origin) return std::nullopt;
    const Frame* own = g.origin->own();
    if (!own) return std::nullopt;
    const bool placed_by_file = !own->file.empty() && own->line;
    return OwnKey{own->function, placed_by_file ? own->file : own->module,
                  placed_by_file ? *own->line : 0, g.origin->kind, g.origin->comm};
}

bool older(const SocketEntry* a, const SocketEntry* b) {
    return best_age_seconds(*a) > best_age_seconds(*b);
}

}  // namespace

std::vector<OwnGroup> group_by_own_frame(const Report& report) {
    std::vector<OwnGroup> merged;
    std::map<OwnKey, size_t> index;  // key -> merged group
    // group_sockets() orders its groups largest first, so each merged group's paths are too.
    for (SocketGroup& g : group_sockets(report)) {
        const std::optional<OwnKey> key = own_key(g);
        size_t at = merged.size();
        if (key) {
            const auto [it, added] = index.try_emplace(*key, merged.size());
            at = it->second;
            if (added) merged.push_back({g.origin->own(), {}, {}});
        } else {
            merged.push_back({});
        }
        OwnGroup& m = merged[at];
        m.sockets.insert(m.sockets.end(), g.sockets.begin(), g.sockets.end());
        m.paths.push_back(std::move(g));
    }
    for (OwnGroup& m : merged)
        if (m.paths.size() > 1) sort_oldest_first(m.sockets);
    std::stable_sort(merged.begin(), merged.end(), [](const OwnGroup& a, const OwnGroup& b) {
        if (a.sockets.size() != b.sockets.size()) return a.sockets.size() > b.sockets.size();
        return older(a.sockets.front(), b.sockets.front());
    });
    return merged;
}

}  // namespace cwtrace
