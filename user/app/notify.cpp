// sd_notify(3) without libsystemd: the datagram systemd's notify socket reads.
#include "app/notify.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

namespace cwtrace {

Result<void> notify_service_manager(const char* notify_socket, std::string_view state) {
    if (!notify_socket || !*notify_socket) return Ok{};
    const std::string_view name(notify_socket);
    const std::string hint = "NOTIFY_SOCKET is set by systemd for a unit of Type=notify";
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    // systemd 254+ also accepts "vsock:CID:PORT" (a VM's manager): not a case cwtrace runs in.
    if (name[0] != '/' && name[0] != '@')
        return Error{"NOTIFY_SOCKET=" + std::string(name) + ": not a path or an @abstract name",
                     hint};
    if (name.size() >= sizeof addr.sun_path)
        return Error{"NOTIFY_SOCKET=" + std::string(name) + ": longer than a socket address", hint};
    std::memcpy(addr.sun_path, name.data(), name.size());
    // An abstract name starts with a NUL byte and is exactly as long as the address says.
    if (name[0] == '@') addr.sun_path[0] = '\0';
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Error{std::string("notify socket: ") + std::strerror(errno), hint};
    const ssize_t sent = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                                reinterpret_cast<const sockaddr*>(&addr), length);
    const int err = errno;
    close(fd);
    if (sent == static_cast<ssize_t>(state.size())) return Ok{};
    return Error{"NOTIFY_SOCKET=" + std::string(name) + ": " +
                     (sent < 0 ? std::strerror(err) : std::string("datagram cut short")),
                 hint};
}

void tell_service_manager(std::string_view state) {
    if (auto told = notify_service_manager(std::getenv("NOTIFY_SOCKET"), state); !told)
        spdlog::warn("{} (hint: {})", told.error().message, told.error().hint);
}

}  // namespace cwtrace
