// Telling systemd how the service is doing: sd_notify(3)'s protocol, one datagram of
// "KEY=VALUE" lines to the AF_UNIX socket $NOTIFY_SOCKET names. Written here rather than linking
// libsystemd: the binary is static and runs where no libsystemd is installed.
#pragma once

#include <string_view>

#include "util/result.h"

namespace cwtrace {

// Sends `state` ("READY=1", "STOPPING=1") to `notify_socket`, the value of $NOTIFY_SOCKET: a
// path, or "@name" for a name in the abstract namespace. Nothing when it is null or empty (not
// started by systemd, or a unit of Type=simple).
Result<void> notify_service_manager(const char* notify_socket, std::string_view state);

// The same to $NOTIFY_SOCKET, a failure said in one line: the run goes on (systemd, not told
// READY, stops it at its start timeout, which says why in the journal).
void tell_service_manager(std::string_view state);

}  // namespace cwtrace
