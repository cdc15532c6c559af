// systemd's notify protocol: the datagram a unit of Type=notify waits for, on a socket the test
// binds where $NOTIFY_SOCKET would name it (a path, or an abstract "@name").
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "app/notify.h"

namespace cwtrace {
namespace {

// A datagram socket bound to `name` as NOTIFY_SOCKET spells it.
class NotifyListener {
  public:
    explicit NotifyListener(const std::string& name) {
        fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr = {};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, name.data(), name.size());
        if (name[0] == '@') addr.sun_path[0] = '\0';
        const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
        bound_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&addr), length) == 0;
        if (name[0] == '/') path_ = name;
    }
    ~NotifyListener() {
        if (fd_ >= 0) close(fd_);
        if (!path_.empty()) unlink(path_.c_str());
    }
    bool bound() const { return bound_; }
    // The next datagram, or "" when none is waiting.
    std::string received() {
        char buffer[256];
        const ssize_t n = recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
        return n > 0 ? std::string(buffer, n) : "";
    }

  private:
    int fd_ = -1;
    bool bound_ = false;
    std::string path_;
};

// Each of `states` sent to `name` arrives whole, alone, in order.
void expect_delivered(const std::string& name, const std::vector<std::string>& states) {
    NotifyListener listener(name);
    ASSERT_TRUE(listener.bound()) << name << ": " << std::strerror(errno);
    for (const std::string& state : states) {
        ASSERT_TRUE(notify_service_manager(name.c_str(), state));
        EXPECT_EQ(listener.received(), state);
    }
    EXPECT_EQ(listener.received(), "");
}

TEST(Notify, SendsTheStateToASocketPath) {
    expect_delivered("/tmp/cwtrace-notify-" + std::to_string(getpid()), {"READY=1", "STOPPING=1"});
}

// systemd's own socket is /run/systemd/notify, but a manager may hand out an abstract name:
// its '@' is a NUL byte in the address, and the address ends with the name (no NUL after).
TEST(Notify, SendsTheStateToAnAbstractName) {
    expect_delivered("@cwtrace-notify-" + std::to_string(getpid()), {"READY=1", "STOPPING=1"});
}

TEST(Notify, NoSocketNoDatagramNoError) {
    EXPECT_TRUE(notify_service_manager(nullptr, "READY=1"));
    EXPECT_TRUE(notify_service_manager("", "READY=1"));
}

TEST(Notify, ABadSocketIsOneLineNamingIt) {
    const auto relative = notify_service_manager("run/notify", "READY=1");
    ASSERT_FALSE(relative);
    EXPECT_EQ(relative.error().message,
              "NOTIFY_SOCKET=run/notify: not a path or an @abstract name");
    const auto nobody_there = notify_service_manager("/nonexistent/notify", "READY=1");
    ASSERT_FALSE(nobody_there);
    EXPECT_EQ(nobody_there.error().message,
              "NOTIFY_SOCKET=/nonexistent/notify: " + std::string(std::strerror(ENOENT)));
    const std::string long_name = "/" + std::string(200, 'x');
    EXPECT_FALSE(notify_service_manager(long_name.c_str(), "READY=1"));
}

// tell_service_manager() reads $NOTIFY_SOCKET itself.
TEST(Notify, TellsTheSocketTheEnvironmentNames) {
    const std::string path = "/tmp/cwtrace-notify-env-" + std::to_string(getpid());
    NotifyListener listener(path);
    ASSERT_TRUE(listener.bound());
    setenv("NOTIFY_SOCKET", path.c_str(), 1);
    tell_service_manager("READY=1");
    unsetenv("NOTIFY_SOCKET");
    EXPECT_EQ(listener.received(), "READY=1");
}

}  // namespace
}  // namespace cwtrace
