// An opening path's user stack with its library frames folded: what a reader needs to see of a
// `requests` crawler's 26 frames is the call that opened the socket, the user's own line and the
// library function it called; the eleven frames of urllib3 and http.client between them read
// better as one line ("… 11 frames in urllib3, http.client …"). Decided here, beside the own
// frame it rests on, so that any text-like format can fold the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/report.h"

namespace cwtrace {

// One line of a folded stack: a frame shown, or a run of frames told by count.
struct StackLine {
    size_t first = 0;  // index into the stack (innermost first) of the frame or the run's first
    size_t count = 1;  // 1: the frame itself; more: a folded run of `count` frames
    std::vector<std::string> libraries;  // a run's libraries (own_frame.h's library_of), each
                                         // once, innermost first; placeholders name none
};

// The rule: shown are the innermost frame (the opener's syscall wrapper, which says how the
// socket was opened), the recorded own frame (`own_frame`), every other frame the own-code rules
// call the user's (own_frame.h, without --own patterns: a saved report does not carry them), and
// the frame just inside each of those (the library function the user's code called, which says
// what it asked for). Every other frame is folded with its neighbours; a run of fewer than three
// is shown, as folding it would save a line at most and hide names ("start_thread"). A stack
// without an own frame is not folded: nothing in it leads the eye, so it is shown as captured.
std::vector<StackLine> fold_library_frames(const std::vector<Frame>& user_stack,
                                           std::optional<uint32_t> own_frame);

}  // namespace cwtrace
