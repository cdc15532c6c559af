// Which language runtime a program runs on, read from an opening path: a report's advice on a
// leak is written in the words of the language it is fixed in (`with` in Python, `defer
// resp.Body.Close()` in Go, `socket.end()` in Node, try-with-resources in Java).
#pragma once

#include <optional>
#include <string>

#include "model/report.h"

namespace cwtrace {

// From the frames first (a CPython frame, Go's runtime functions, libjvm, node's executable or
// its perf map), else from the process's name (`comm`: "python3", "node", "java"); Unknown for
// a native program or a path that tells nothing.
Runtime runtime_of(const Origin& origin, const std::optional<std::string>& comm = std::nullopt);

// Whether a Node opening path ran from the event loop, no code of the user's on it: net.connect
// defers connect() (to process.nextTick for an address, to the DNS lookup's callback for a
// name), so when it runs the function that asked has returned, and its frames are gone. Read
// from node's machinery between the loop and the JavaScript: the tick queue drained as a
// callback scope closes (node::InternalCallbackScope::Close, processTicksAndRejections once
// named), a callback libuv made (uv_run, node::InternalMakeCallback).
bool opened_from_event_loop(const Origin& origin);

}  // namespace cwtrace
