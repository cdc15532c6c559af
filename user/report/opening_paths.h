// Sockets grouped by the code path that opened them: the origin's kind and its user and kernel
// stacks. Shared by the text report and the flame-style reports. Hash-based, so that a report
// of a million sockets sharing a few paths groups in a fraction of a second.
#pragma once

#include <vector>

#include "model/report.h"

namespace cwtrace {

struct PathGroup {
    const Origin* origin = nullptr;           // the path (of the group's first socket)
    std::vector<const SocketEntry*> sockets;  // in report order
};

// One group per distinct path, sorted by path: kind, then user stack, then kernel stack, frame
// by frame (function, then module), so equal reports give equal orders.
std::vector<PathGroup> group_by_opening_path(const Report& report);

}  // namespace cwtrace
