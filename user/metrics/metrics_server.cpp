#include "metrics/metrics_server.h"

#include <httplib.h>
#include <signal.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>

#include "metrics/metrics.h"

namespace cwtrace {

struct MetricsServer::Impl {
    httplib::Server server;
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
    // Two workers: Prometheus keeps a connection open; a person with curl still gets through.
    impl->server.new_task_queue = [] { return new httplib::ThreadPool(2); };
    impl->server.set_keep_alive_timeout(2);
    impl->server.set_read_timeout(5, 0);
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
