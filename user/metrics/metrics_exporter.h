// Continuous mode's outputs and their cadence: the HTTP server (--metrics-addr) gets a fresh
// exposition every second, the textfile (--metrics-textfile) every 10 seconds and at exit;
// less often when building one takes more than a tenth of that in CPU time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "metrics/metrics_server.h"
#include "util/result.h"

namespace cwtrace {

// --metrics-addr HOST:PORT. An empty host listens on every address.
struct MetricsAddr {
    std::string host;  // "127.0.0.1", "::1" (given as [::1]), "localhost"
    uint16_t port = 0;
};

// Where continuous mode's exposition goes (--metrics-addr, --metrics-textfile).
struct MetricsOutputs {
    std::optional<MetricsAddr> addr;  // nullopt: no server
    std::string textfile;             // empty: none
};

class MetricsExporter {
  public:
    static constexpr uint64_t kServerRefreshNs = 1'000'000'000;
    static constexpr uint64_t kTextfileRefreshNs = 10'000'000'000;
    static constexpr uint64_t kMaxCostRatio = 10;  // refresh period >= 10 x the refresh's cost

    // Binds the server's port (if any) now, before tracing starts. Null when neither output
    // is asked for.
    static Result<std::unique_ptr<MetricsExporter>> start(const MetricsOutputs& outputs);

    // When refresh() should next be called (CLOCK_MONOTONIC ns); 0 at first.
    uint64_t next_refresh_ns() const;
    // Publishes `render()` to the outputs that are due. The text is built at most once.
    void refresh(uint64_t now_ns, const std::function<std::string()>& render);
    // At exit: the textfile gets the final numbers.
    void finish(const std::function<std::string()>& render);

  private:
    MetricsExporter() = default;
    void write_textfile(const std::string& text);

    std::unique_ptr<MetricsServer> server_;
    std::string textfile_;
    uint64_t next_server_ns_ = 0, next_textfile_ns_ = 0;
    bool textfile_failing_ = false;  // warn once per failure streak, not every 10 s
};

}  // namespace cwtrace
