// `--metrics-addr`: Prometheus scrapes /metrics here. The server runs on threads of its own and
// only ever reads the last published text; the tracing side stays single-threaded. Each request
// must arrive whole within a deadline and connections are capped, so slow or many clients
// cannot starve a scrape; still, it is meant for loopback or behind a proxy (README, Security).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "util/result.h"

namespace cwtrace {

class MetricsServer {
  public:
    // Binds HOST:PORT now (so a port in use fails before tracing starts) and serves on a
    // thread of its own. /metrics answers 503 until the first publish(). Port 0: any free one.
    static Result<std::unique_ptr<MetricsServer>> start(const std::string& host, uint16_t port);
    ~MetricsServer();  // stops serving and joins the thread
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    // Replaces what /metrics answers. Cheap: a pointer swap under a mutex.
    void publish(std::shared_ptr<const std::string> exposition);

    // The port actually bound.
    uint16_t port() const;

    struct Impl;

  private:
    explicit MetricsServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace cwtrace
