#include "metrics/metrics_exporter.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "metrics/metrics_textfile.h"
#include "util/clock.h"

namespace cwtrace {
Result<std::unique_ptr<MetricsExporter>> MetricsExporter::start(const MetricsOutputs& outputs) {
    if (!outputs.addr && outputs.textfile.empty()) return std::unique_ptr<MetricsExporter>();
    std::unique_ptr<MetricsExporter> exporter(new MetricsExporter());
    if (outputs.addr) {
        const std::string& host = outputs.addr->host;
        const uint16_t port = outputs.addr->port;
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
    exporter->textfile_ = outputs.textfile;
    if (exporter->textfile_.empty()) exporter->next_textfile_ns_ = UINT64_MAX;
    return exporter;
}

uint64_t MetricsExporter::next_refresh_ns() const {
    return std::min(next_server_ns_, next_textfile_ns_);
}

void MetricsExporter::refresh(uint64_t now_ns, const std::function<std::string()>& render) {
    std::shared_ptr<const std::string> text;
    uint64_t cost_ns = 0;  // CPU time: on a busy machine, waiting for a CPU is not our cost
    const auto rendered = [&]() -> const std::string& {
        if (text) return *text;
        const auto wall = std::chrono::steady_clock::now();
        const uint64_t cpu = process_cpu_ns();
        text = std::make_shared<const std::string>(render());
        cost_ns = process_cpu_ns() - cpu;
        spdlog::debug(
            "metrics refreshed in {:.1f} ms ({:.1f} ms of CPU)",
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - wall)
                .count(),
            static_cast<double>(cost_ns) / 1e6);
        return *text;
    };
    if (server_ && now_ns >= next_server_ns_) {
        rendered();
        server_->publish(text);
        // With very many sockets a refresh (a /proc and sock_diag pass) gets costly: then
        // refresh less often, so that it never takes more than a tenth of a CPU.
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
