// Leaks told by the user's code: the groups of socket_groups.h whose opening paths reach the same
// first own frame (report/own_frame) in the same program merge into one, since a reader fixes
// that line, not one of the library paths below it (a `requests` crawler reaches its leaking
// line through several pool and retry paths). Decided here, not in a renderer, so that any
// format can lead with the same leaks.
#pragma once

#include <vector>

#include "model/report.h"
#include "report/socket_groups.h"

namespace cwtrace {

struct OwnGroup {
    // The first own frame the paths share (of the first path); nullptr for a group that merges
    // with none: held sockets, a path without an own frame.
    const Frame* own = nullptr;
    std::vector<SocketGroup> paths;           // one per opening path: largest first, each once
    std::vector<const SocketEntry*> sockets;  // of every path, oldest first
};

// group_sockets(report), merged where the opening paths' first own frames are the same function
// at the same place (file and line; the module where no line is known), opened the same way
// (connect or accept) by the same program (the opener's comm). Largest first; ties: oldest
// socket first, then as group_sockets() ordered them.
std::vector<OwnGroup> group_by_own_frame(const Report& report);

}  // namespace cwtrace
