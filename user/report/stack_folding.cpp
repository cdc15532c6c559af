// Folding a user stack's library frames (see stack_folding.h).
#include "report/stack_folding.h"

#include <algorithm>

#include "report/own_frame.h"

namespace cwtrace {
namespace {

constexpr size_t kMinRun = 3;  // shorter runs of library frames are shown (stack_folding.h)

std::vector<bool> frames_shown(const std::vector<Frame>& stack, size_t own) {
    std::vector<bool> own_by_rules = OwnCode{}.own_frames(stack);
    own_by_rules[own] = true;
    std::vector<bool> shown = own_by_rules;
    for (size_t i = 1; i < stack.size(); ++i)
        if (own_by_rules[i]) shown[i - 1] = true;  // the library call the own frame made
    shown[0] = true;
    return shown;
}

StackLine folded_run(const std::vector<Frame>& stack, size_t first, size_t count) {
    StackLine run{first, count, {}};
    for (size_t i = first; i < first + count; ++i) {
        std::string lib = library_of(stack[i]);
        if (!lib.empty() &&
            std::find(run.libraries.begin(), run.libraries.end(), lib) == run.libraries.end())
            run.libraries.push_back(std::move(lib));
    }
    return run;
}

}  // namespace

std::vector<StackLine> fold_library_frames(const std::vector<Frame>& stack,
                                           std::optional<uint32_t> own_frame) {
    std::vector<StackLine> lines;
    if (!own_frame || *own_frame >= stack.size()) {
        for (size_t i = 0; i < stack.size(); ++i) lines.push_back({i, 1, {}});
        return lines;
    }
    const std::vector<bool> shown = frames_shown(stack, *own_frame);
    for (size_t i = 0; i < stack.size();) {
        size_t end = i + 1;
        // A run stays in one goroutine: the line naming a creating one goes between.
        if (!shown[i])
            while (end < stack.size() && !shown[end] && stack[end].creator == stack[i].creator)
                ++end;
        if (end - i >= kMinRun) {
            lines.push_back(folded_run(stack, i, end - i));
        } else {
            for (size_t j = i; j < end; ++j) lines.push_back({j, 1, {}});
        }
        i = end;
    }
    return lines;
}

}  // namespace cwtrace
