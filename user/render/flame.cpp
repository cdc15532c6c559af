#include "render/flame.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string_view>

#include "report/opening_paths.h"
#include "report/runtime_frames.h"
#include "util/display.h"

namespace cwtrace {
namespace {

// Frames of a language runtime: its program, shared objects and machinery, and the code it runs
// (report/runtime_frames' table, which the runtime's advice and the own frame read too).
bool is_interpreter(const Frame& f) {
    const auto r = runtime_frame(f);
    return r && r->mark != RuntimeMark::StandardLibrary;
}

FlameFrame user_frame(const Frame& f, bool with_address) {
    FlameFrame out{display_safe(f.function.empty() ? kUnknownFrame : f.function),
                   display_safe(f.module),
                   is_interpreter(f) ? FlameKind::Interpreter : FlameKind::User};
    if (with_address) {
        out.address = f.address;
        out.file_offset = f.file_offset;
        out.build_id = f.build_id;
    }
    return out;
}

FlameFrame kernel_frame(const Frame& f) {
    return {display_safe(f.function.empty() ? kUnknownFrame : f.function), "", FlameKind::Kernel};
}

FlameFrame placeholder(const char* name) { return {name, "", FlameKind::Missing}; }

std::string root_name(const SocketEntry& s) {
    if (s.origin->comm) return display_safe(*s.origin->comm);
    if (s.origin->kind == OriginKind::Unknown && s.comm) return display_safe(*s.comm);
    return kUnknownFrame;
}

// Root first; the model's stacks are innermost first.
std::vector<FlameFrame> frames_of(const SocketEntry& s, bool with_addresses) {
    const Origin& o = s.origin;
    std::vector<FlameFrame> frames{{root_name(s), "", FlameKind::Process}};
    if (o.kind == OriginKind::Unknown && o.user_stack.empty() && o.kernel_stack.empty()) {
        frames.push_back(placeholder(kOriginUnknown));
        return frames;
    }
    if (o.user_stack.empty()) frames.push_back(placeholder(kMissingUserStack));
    for (auto f = o.user_stack.rbegin(); f != o.user_stack.rend(); ++f) {
        frames.push_back(user_frame(*f, with_addresses));
        frames.back().own = &*f == o.own();
    }
    if (o.kernel_stack.empty()) frames.push_back(placeholder(kMissingKernelStack));
    for (auto f = o.kernel_stack.rbegin(); f != o.kernel_stack.rend(); ++f)
        frames.push_back(kernel_frame(*f));
    return frames;
}

}  // namespace

uint64_t flame_weight_of(const SocketEntry& s, FlameWeight weight) {
    if (weight == FlameWeight::Sockets) return 1;
    const double age = best_age_seconds(s);  // 0 when unknown, NaN or infinite
    if (age < 1.5) return 1;
    return age >= 1e15 ? static_cast<uint64_t>(1e15) : static_cast<uint64_t>(std::llround(age));
}

std::vector<FlameStack> flame_stacks(const Report& report, FlameWeight weight,
                                     bool with_addresses) {
    // Paths are built once per (opening path, root comm), not once per socket.
    std::map<std::vector<FlameFrame>, uint64_t> counts;
    for (const auto& group : group_by_opening_path(report)) {
        std::map<std::string, std::pair<const SocketEntry*, uint64_t>> by_root;
        for (const auto* s : group.sockets) {
            auto& [first, n] = by_root[root_name(*s)];
            if (!first) first = s;
            n += flame_weight_of(*s, weight);
        }
        for (const auto& [root, entry] : by_root)
            counts[frames_of(*entry.first, with_addresses)] += entry.second;
    }
    std::vector<FlameStack> stacks;
    stacks.reserve(counts.size());
    for (auto& [frames, count] : counts) stacks.push_back({frames, count});
    return stacks;
}

uint64_t flame_total(const std::vector<FlameStack>& stacks) {
    uint64_t total = 0;
    for (const auto& s : stacks) total += s.count;
    return total;
}

}  // namespace cwtrace
