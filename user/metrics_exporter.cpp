#include "cwtrace/metrics_exporter.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "cwtrace/metrics_textfile.h"

namespace cwtrace {

Result<std::unique_ptr<MetricsExporter>> MetricsExporter::start(const Options& options) {
    if (!options.metrics_addr && options.metrics_textfile.empty())
        return std::unique_ptr<MetricsExporter>();
    std::unique_ptr<MetricsExporter> exporter(new MetricsExporter());
    if (options.metrics_addr) {
        const std::string& host = options.metrics_addr->host;
        const uint16_t port = options.metrics_addr->port;
        // Every address: "::" takes IPv4 too (not IPV6_V6ONLY); without IPv6, "0.0.0.0".
        auto server = MetricsServer::start(host.empty() ? "::" : host, port);
        if (!server && host.empty()) server = MetricsServer::start("0.0.0.0", port);
        if (!server) return server.error();
        exporter->server_ = std::move(*server);
        spdlog::info("serving Prometheus metrics on http://{}:{}/metrics",
                     host.empty()                          ? "*"
                     : host.find(':') != std::string::npos ? "[" + host + "]"
                                                           : host,
                     port);
    } else {
        exporter->next_server_ns_ = UINT64_MAX;
    }
    exporter->textfile_ = options.metrics_textfile;
    if (exporter->textfile_.empty()) exporter->next_textfile_ns_ = UINT64_MAX;
    return exporter;
}

uint64_t MetricsExporter::next_refresh_ns() const {
    return std::min(next_server_ns_, next_textfile_ns_);
}

void MetricsExporter::refresh(uint64_t now_ns, const std::function<std::string()>& render) {
    std::shared_ptr<const std::string> text;
    uint64_t cost_ns = 0;
    const auto rendered = [&]() -> const std::string& {
        if (text) return *text;
        const auto started = std::chrono::steady_clock::now();
        text = std::make_shared<const std::string>(render());
        cost_ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                            std::chrono::steady_clock::now() - started)
                                            .count());
        spdlog::debug("metrics refreshed in {:.1f} ms", static_cast<double>(cost_ns) / 1e6);
        return *text;
    };
    if (server_ && now_ns >= next_server_ns_) {
        rendered();
        server_->publish(text);
        // With very many sockets a refresh (a /proc and sock_diag pass) gets costly: then
        // refresh less often, so that it never takes more than a tenth of the time.
        next_server_ns_ = now_ns + std::max(kServerRefreshNs, kMaxCostRatio * cost_ns);
    }
    if (!textfile_.empty() && now_ns >= next_textfile_ns_) {
        write_textfile(rendered());
        next_textfile_ns_ = now_ns + std::max(kTextfileRefreshNs, kMaxCostRatio * cost_ns);
    }
}

void MetricsExporter::finish(const std::function<std::string()>& render) {
    if (!textfile_.empty()) write_textfile(render());
}

void MetricsExporter::write_textfile(const std::string& text) {
    auto written = write_textfile_atomically(textfile_, text);
    if (written) {
        if (textfile_failing_) spdlog::info("--metrics-textfile: writing {} again", textfile_);
        textfile_failing_ = false;
        return;
    }
    if (!textfile_failing_) spdlog::warn("{}", written.error().message);
    textfile_failing_ = true;
}

}  // namespace cwtrace
