#include "metrics/metrics_server.h"

#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "metrics/metrics.h"

namespace cwtrace {
namespace {

using Clock = std::chrono::steady_clock;

// Workers: Prometheus keeps a connection open, a person with curl still gets through, and a few
// slow clients hold a worker for at most kRequestDeadline each.
constexpr size_t kWorkers = 8;
// Connections accepted and not yet closed, waiting ones included: beyond it a new one is closed
// at once, so that clients cannot take the file descriptors the tracing side needs.
constexpr size_t kMaxConnections = 64;
// From accept (or from the last answer on a kept-alive connection) to a request read whole.
constexpr auto kRequestDeadline = std::chrono::seconds(2);

// Set on the accept thread for a connection over kMaxConnections: its task closes it unread.
thread_local bool t_refuse = false;

// httplib's pool, counting the connections it holds.
class CountedPool : public httplib::TaskQueue {
  public:
    void enqueue(std::function<void()> fn) override {
        if (held_.fetch_add(1) >= kMaxConnections) {
            t_refuse = true;  // the task only closes its socket: done here, at once
            fn();
            t_refuse = false;
            held_.fetch_sub(1);
            return;
        }
        pool_.enqueue([this, fn = std::move(fn)] {
            fn();
            held_.fetch_sub(1);
        });
    }
    void shutdown() override { pool_.shutdown(); }

  private:
    httplib::ThreadPool pool_{kWorkers};
    std::atomic<size_t> held_{0};
};

// Waits until `sock` is ready for `events` or `deadline` passes.
bool wait_until(int sock, short events, Clock::time_point deadline) {
    for (;;) {
        const auto left =
            std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return false;
        pollfd p = {sock, events, 0};
        const int n = ::poll(&p, 1, static_cast<int>(left));
        if (n > 0) return (p.revents & (events | POLLHUP | POLLERR)) != 0;
        if (n == 0 || errno != EINTR) return false;
    }
}

void address_of(int sock, bool peer, std::string& ip, int& port) {
    sockaddr_storage addr = {};
    socklen_t len = sizeof addr;
    char host[NI_MAXHOST] = "", service[NI_MAXSERV] = "";
    if ((peer ? ::getpeername : ::getsockname)(sock, reinterpret_cast<sockaddr*>(&addr), &len) ||
        ::getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof host, service,
                      sizeof service, NI_NUMERICHOST | NI_NUMERICSERV))
        return;
    ip = host;
    port = std::atoi(service);
}

// A connection's socket as httplib reads and writes it, with one deadline for a request to
// arrive and be read whole and another for its answer: httplib's own stream waits its read
// timeout for each byte afresh, so one byte every few seconds held a worker for as long as the
// client liked.
class DeadlineStream : public httplib::Stream {
  public:
    DeadlineStream(int sock, Clock::time_point read_deadline)
        : sock_(sock),
          read_deadline_(read_deadline),
          write_deadline_(read_deadline + kAnswerTime) {}

    bool is_readable() const override {
        return next_ < end_ || wait_until(sock_, POLLIN, read_deadline_);
    }
    bool is_writable() const override { return wait_until(sock_, POLLOUT, write_deadline_); }
    ssize_t read(char* out, size_t size) override {
        if (next_ == end_) {
            if (!is_readable()) return -1;
            const ssize_t n = ::recv(sock_, buffer_, sizeof buffer_, 0);
            if (n <= 0) return n;
            next_ = 0;
            end_ = static_cast<size_t>(n);
        }
        const size_t n = std::min(size, end_ - next_);
        std::memcpy(out, buffer_ + next_, n);
        next_ += n;
        return static_cast<ssize_t>(n);
    }
    ssize_t write(const char* bytes, size_t size) override {
        if (!is_writable()) return -1;
        return ::send(sock_, bytes, size, MSG_NOSIGNAL);
    }
    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        address_of(sock_, true, ip, port);
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
        address_of(sock_, false, ip, port);
    }
    socket_t socket() const override { return sock_; }

  private:
    static constexpr auto kAnswerTime = std::chrono::seconds(10);  // a large exposition, far
    int sock_;
    Clock::time_point read_deadline_, write_deadline_;
    char buffer_[4096];
    size_t next_ = 0, end_ = 0;
};

}  // namespace

// httplib's server, its connections read through DeadlineStream and counted by CountedPool.
class GuardedServer : public httplib::Server {
  public:
    GuardedServer() {
        new_task_queue = [] { return new CountedPool(); };
    }

    // httplib listens with a backlog of 5: a burst of connections would see SYNs dropped and
    // retried a second later. listen(2) again on the bound socket only sets the backlog.
    void widen_backlog() { ::listen(svr_sock_, static_cast<int>(kMaxConnections)); }

  private:
    // As httplib's own (a few requests per kept-alive connection), each request with its
    // deadline counted from when the connection waits for it.
    bool process_and_close_socket(socket_t sock) override {
        bool ok = false;
        for (size_t left = t_refuse ? 0 : keep_alive_max_count_; left > 0; --left) {
            DeadlineStream stream(sock, Clock::now() + kRequestDeadline);
            if (svr_sock_ == INVALID_SOCKET || !stream.is_readable()) break;
            bool closed = false;
            ok = process_request(stream, left == 1, closed, nullptr);
            if (!ok || closed) break;
        }
        ::shutdown(sock, SHUT_RDWR);
        ::close(sock);
        return ok;
    }
};

struct MetricsServer::Impl {
    GuardedServer server;
    std::thread thread;
    int port = 0;

    std::mutex mutex;
    std::shared_ptr<const std::string> exposition;  // guarded by mutex; the text never changes

    std::shared_ptr<const std::string> current() {
        std::lock_guard lock(mutex);
        return exposition;
    }
};

namespace {

void add_routes(MetricsServer::Impl& impl) {
    impl.server.Get("/metrics", [&impl](const httplib::Request&, httplib::Response& res) {
        auto text = impl.current();
        if (!text) {
            res.status = 503;
            res.set_content("cwtrace is starting\n", "text/plain");
            return;
        }
        res.set_content(*text, kMetricsContentType);
    });
    impl.server.Get("/", [](const httplib::Request&, httplib::Response& res) {
        res.set_content("cwtrace: metrics at /metrics\n", "text/plain");
    });
}

// Only SO_REUSEADDR: httplib's default SO_REUSEPORT would let a second cwtrace share the port.
void reuse_addr_only(socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
}

Error bind_error(const std::string& host, uint16_t port, int error) {
    const std::string where = (host.find(':') != std::string::npos ? "[" + host + "]" : host) +
                              ":" + std::to_string(port);
    std::string message = "--metrics-addr: cannot listen on " + where;
    if (error) message += std::string(": ") + std::strerror(error);
    return {message, error == EACCES ? "ports below 1024 need CAP_NET_BIND_SERVICE"
                                     : "is another program listening there (ss -ltnp)? choose "
                                       "another port"};
}

}  // namespace

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& host,
                                                            uint16_t port) {
    auto impl = std::make_unique<Impl>();
    impl->server.set_socket_options(reuse_addr_only);
    impl->server.set_keep_alive_timeout(2);
    impl->server.set_payload_max_length(64 * 1024);
    add_routes(*impl);

    errno = 0;
    const int bound = port == 0 ? impl->server.bind_to_any_port(host)
                                : (impl->server.bind_to_port(host, port) ? port : -1);
    if (bound <= 0) {
        const int e = errno == EADDRINUSE || errno == EACCES || errno == EADDRNOTAVAIL ? errno : 0;
        return bind_error(host, port, e);
    }
    impl->port = bound;
    impl->server.widen_backlog();

    // The server's threads leave SIGINT/SIGTERM/SIGHUP to the main thread, whose loop stops on
    // them.
    sigset_t stop_signals, previous;
    sigemptyset(&stop_signals);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stop_signals, sig);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &previous);
    Impl* raw = impl.get();
    impl->thread = std::thread([raw] { raw->server.listen_after_bind(); });
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

MetricsServer::~MetricsServer() {
    impl_->server.stop();
    if (impl_->thread.joinable()) impl_->thread.join();
}

void MetricsServer::publish(std::shared_ptr<const std::string> exposition) {
    std::lock_guard lock(impl_->mutex);
    impl_->exposition = std::move(exposition);
}

uint16_t MetricsServer::port() const { return static_cast<uint16_t>(impl_->port); }

}  // namespace cwtrace
