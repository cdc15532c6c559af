// The metrics server under clients that do not play fair (issue 25): slow ones and many ones
// cannot starve a scrape.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include "metrics/metrics_server.h"

namespace cwtrace {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

int connect_to(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// Whether the server closed `fd` within `timeout` (EOF, or a reset after its shutdown).
bool closed_within(int fd, std::chrono::milliseconds timeout) {
    pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char byte;
    return ::recv(fd, &byte, 1, MSG_DONTWAIT) <= 0;
}

struct Served {
    std::unique_ptr<MetricsServer> server;
    uint16_t port = 0;
};

Served serve() {
    auto server = MetricsServer::start("127.0.0.1", 0);
    EXPECT_TRUE(server) << server.error().message;
    Served s{std::move(*server), 0};
    s.port = s.server->port();
    s.server->publish(std::make_shared<const std::string>("cwtrace_events_total 7\n"));
    return s;
}

// Two clients each sending a request a byte at a time (issue 25: one byte every 3 s; here every
// 500 ms, faster than any per-read timeout) took both of httplib's workers: /metrics answered
// nobody for as long as they went on.
TEST(MetricsServerClients, TwoSlowClientsDoNotStarveAScrape) {
    Served s = serve();
    std::vector<int> slow = {connect_to(s.port), connect_to(s.port)};
    for (int fd : slow) ASSERT_GE(fd, 0);
    // Stopped and joined however the test ends (a failed ASSERT returns early).
    std::jthread dribble([&](std::stop_token stop) {
        const char request[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        for (size_t i = 0; !stop.stop_requested(); i = std::min(i + 1, sizeof request - 2)) {
            for (int fd : slow) ::send(fd, request + i, 1, MSG_NOSIGNAL);
            std::this_thread::sleep_for(500ms);
        }
    });
    std::this_thread::sleep_for(300ms);  // both are being read by now

    httplib::Client client("127.0.0.1", s.port);
    client.set_connection_timeout(2, 0);
    client.set_read_timeout(2, 0);
    const auto asked = Clock::now();
    auto scraped = client.Get("/metrics");
    const auto took = Clock::now() - asked;
    ASSERT_TRUE(scraped) << httplib::to_string(scraped.error());
    EXPECT_EQ(scraped->body, "cwtrace_events_total 7\n");
    EXPECT_LT(took, 1s);

    // And the slow ones are cut at their deadline (2 s), however steadily they dribble.
    for (int fd : slow) EXPECT_TRUE(closed_within(fd, 3s)) << "a slow client still held";
    dribble.request_stop();
    dribble.join();
    for (int fd : slow) ::close(fd);
}

// Connections beyond the cap are closed at once rather than queued behind the others, so that
// clients cannot take every file descriptor of the process.
TEST(MetricsServerClients, ConnectionsBeyondTheCapAreClosedAtOnce) {
    Served s = serve();
    std::vector<int> idle;
    for (int i = 0; i < 64; ++i) {
        idle.push_back(connect_to(s.port));
        ASSERT_GE(idle.back(), 0);
    }
    std::this_thread::sleep_for(200ms);  // all accepted
    for (int fd : idle) EXPECT_FALSE(closed_within(fd, 0ms));
    const int over = connect_to(s.port);
    ASSERT_GE(over, 0);
    EXPECT_TRUE(closed_within(over, 500ms));
    ::close(over);
    for (int fd : idle) ::close(fd);
}

}  // namespace
}  // namespace cwtrace
