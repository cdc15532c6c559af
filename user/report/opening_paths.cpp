#include "report/opening_paths.h"

#include <algorithm>
#include <cstddef>
#include <functional>
#include <string>
#include <unordered_map>

namespace cwtrace {
namespace {

size_t combine(size_t seed, size_t h) { return seed ^ (h + 0x9e3779b97f4a7c15ULL + (seed << 6)); }

size_t hash_stack(size_t seed, const std::vector<Frame>& stack) {
    std::hash<std::string> h;
    seed = combine(seed, stack.size());
    for (const auto& f : stack)
        seed = combine(combine(combine(seed, h(f.function)), h(f.module)), f.line.value_or(0));
    return seed;
}

// Three-way comparison of stacks, frame by frame: function, then module; a prefix first.
int compare_stacks(const std::vector<Frame>& a, const std::vector<Frame>& b) {
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
        if (int c = a[i].function.compare(b[i].function)) return c;
        if (int c = a[i].module.compare(b[i].module)) return c;
        if (a[i].line != b[i].line) return a[i].line < b[i].line ? -1 : 1;  // interpreted code
    }
    return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
}

int compare_paths(const Origin& a, const Origin& b) {
    if (a.kind != b.kind) return static_cast<int>(a.kind) < static_cast<int>(b.kind) ? -1 : 1;
    if (int c = compare_stacks(a.user_stack, b.user_stack)) return c;
    return compare_stacks(a.kernel_stack, b.kernel_stack);
}

struct PathHash {
    size_t operator()(const Origin* o) const {
        return hash_stack(hash_stack(static_cast<size_t>(o->kind), o->user_stack), o->kernel_stack);
    }
};

struct PathEqual {
    bool operator()(const Origin* a, const Origin* b) const { return compare_paths(*a, *b) == 0; }
};

}  // namespace

std::vector<PathGroup> group_by_opening_path(const Report& report) {
    std::unordered_map<const Origin*, size_t, PathHash, PathEqual> index;
    std::vector<PathGroup> groups;
    for (const auto& s : report.sockets) {
        auto [it, added] = index.try_emplace(&s.origin.get(), groups.size());
        if (added) groups.push_back({&s.origin.get(), {}});
        groups[it->second].sockets.push_back(&s);
    }
    std::sort(groups.begin(), groups.end(), [](const PathGroup& a, const PathGroup& b) {
        return compare_paths(*a.origin, *b.origin) < 0;
    });
    return groups;
}

}  // namespace cwtrace
