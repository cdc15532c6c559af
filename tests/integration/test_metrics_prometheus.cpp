// Continuous mode against a real Prometheus (Debian's package): cwtrace serves /metrics next to
// a leaking fixture, a Prometheus started here on loopback scrapes it every second, and its
// query API returns the fixture's leak count. The text also passes `promtool check metrics`.
// Needs root and BPF; with CWTRACE_REQUIRE_BPF=1 (CI) a missing prometheus is a failure too.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "harness.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kPrometheus = "/usr/bin/prometheus";
constexpr const char* kPromtool = "/usr/bin/promtool";

// A loopback port free right now (the kernel picks it; the socket is closed again).
int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len)) {
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return ntohs(addr.sin_port);
}

std::string url_encode(const std::string& s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

class TempDir {
  public:
    TempDir() {
        char tmpl[] = "/tmp/cwtrace-prometheus-XXXXXX";
        path_ = mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(path_); }
    std::string path(const std::string& name) const { return path_ + "/" + name; }

  private:
    std::string path_;
};

// A Prometheus of our own: loopback only, temporary storage, scraping `target` every second.
class PrometheusServer {
  public:
    PrometheusServer(const TempDir& dir, int target_port) : port_(free_port()) {
        std::ofstream(dir.path("prometheus.yml")) << "global:\n"
                                                     "  scrape_interval: 1s\n"
                                                     "  scrape_timeout: 1s\n"
                                                     "scrape_configs:\n"
                                                     "  - job_name: cwtrace\n"
                                                     "    static_configs:\n"
                                                     "      - targets: ['127.0.0.1:"
                                                  << target_port << "']\n";
        process_ = std::make_unique<Process>(std::vector<std::string>{
            kPrometheus, "--config.file=" + dir.path("prometheus.yml"),
            "--storage.tsdb.path=" + dir.path("data"),
            "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"});
    }
    ~PrometheusServer() {
        process_->signal(SIGTERM);
        if (!process_->wait(10s)) process_->signal(SIGKILL);
    }

    // The instant vector of `query` now, or nullopt while Prometheus is not answering.
    std::optional<json> query(const std::string& query) {
        httplib::Client client("127.0.0.1", port_);
        client.set_connection_timeout(1, 0);
        client.set_read_timeout(2, 0);
        auto res = client.Get("/api/v1/query?query=" + url_encode(query));
        if (!res || res->status != 200) return std::nullopt;
        json body = json::parse(res->body, nullptr, false);
        if (body.is_discarded() || body.value("status", "") != "success") return std::nullopt;
        return body.at("data").at("result");
    }

    // Polls `query` until its single sample's value satisfies `done`; returns the last value.
    std::optional<double> wait_value(const std::string& query, bool (*done)(double),
                                     std::chrono::seconds timeout) {
        std::optional<double> last;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            auto result = this->query(query);
            if (result && result->size() == 1)
                last = std::stod(result->at(0).at("value").at(1).get<std::string>());
            if (last && done(*last)) break;
            std::this_thread::sleep_for(500ms);
        }
        return last;
    }

    const std::string& log() { return process_->err(); }

  private:
    int port_;
    std::unique_ptr<Process> process_;
};

std::optional<std::string> scrape(int port) {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(5, 0);
    auto res = client.Get("/metrics");
    if (!res || res->status != 200) return std::nullopt;
    return res->body;
}

// The value of a sample line `name{labels} value` or `name value` in an exposition.
std::optional<double> sample_value(const std::string& text, const std::string& series) {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);)
        if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
    return std::nullopt;
}

class Prometheus : public ::testing::Test {
  protected:
    void SetUp() override {
        if (access(kPrometheus, X_OK) == 0 && access(kPromtool, X_OK) == 0) return;
        skip_or_fail("prometheus/promtool not installed (scripts/install-deps)");
    }
};

constexpr int kLeaks = 3;

TEST_F(Prometheus, QueryApiReturnsTheFixturesLeakCount) {
    TempDir dir;
    const int metrics_port = free_port();
    ASSERT_GT(metrics_port, 0);
    PrometheusServer prometheus(dir, metrics_port);  // starts while the rest gets ready

    Process peer({FX_PEER, "-l"});
    auto port_line = peer.wait_line("port ", 5s);
    ASSERT_TRUE(port_line);
    const std::string port = port_line->substr(port_line->find(' ') + 1);
    // The client waits to connect until cwtrace follows it alone by --pid: other tests on the
    // machine may leak to 127.0.0.1 too.
    Process client(
        {FX_LEAKY_CLIENT, "-p", port, "-n", std::to_string(kLeaks), "-g", "2", "-w", "30"});
    ASSERT_TRUE(client.wait_line("waiting", 5s)) << client.err();
    const std::string textfile = dir.path("cwtrace.prom");
    auto cwtrace = start_cwtrace(
        {"--min-age", "1s", "-f", "json", "--pid", std::to_string(client.pid()), "--metrics-addr",
         "127.0.0.1:" + std::to_string(metrics_port), "--metrics-textfile", textfile});
    if (!cwtrace) return;
    client.signal(SIGUSR1);
    // Another process leaks and closes healthy connections in the same run: were --pid
    // ignored, every count below would be off by its own.
    Process other({FX_LEAKY_CLIENT, "-p", port, "-n", "2", "-g", "5"});
    ASSERT_TRUE(other.wait_line("ready", 10s)) << other.err();
    ASSERT_TRUE(client.wait_line("ready", 10s)) << client.err();

    auto leaked = prometheus.wait_value(
        "cwtrace_close_wait_sockets{comm=\"leaky_client\",remote=\"127.0.0.1\"}",
        [](double v) { return v == kLeaks; }, 20s);
    EXPECT_EQ(leaked, std::optional<double>(kLeaks)) << "prometheus log:\n" << prometheus.log();
    auto all = prometheus.query("cwtrace_close_wait_sockets_all");
    ASSERT_TRUE(all && all->size() == 1) << (all ? all->dump() : "no answer");
    EXPECT_EQ(all->at(0).at("value").at(1), std::to_string(kLeaks));

    // What Prometheus parsed also passes promtool's checks (format and naming lints).
    auto text = scrape(metrics_port);
    ASSERT_TRUE(text);
    std::ofstream(dir.path("scraped.prom")) << *text;
    RunResult check = run_command(
        {"/bin/sh", "-c", std::string(kPromtool) + " check metrics < " + dir.path("scraped.prom")},
        20s);
    EXPECT_EQ(check.exit_code, 0) << check.out << check.err << "\n" << *text;
    // The client's two healthy connections, and no other process's, left CLOSE_WAIT, at once:
    // both in a bucket under the min-age of 1 s (how far under depends on the machine's load:
    // 1-4 ms was seen in the sanitizer build on a busy CI VM).
    EXPECT_EQ(sample_value(*text, "cwtrace_close_wait_duration_seconds_count"),
              std::optional<double>(2))
        << *text;
    EXPECT_EQ(sample_value(*text, "cwtrace_close_wait_duration_seconds_bucket{le=\"0.262144\"}"),
              std::optional<double>(2))
        << *text;

    ASSERT_EQ(stop(*cwtrace), std::optional<int>(0)) << cwtrace->err();
    json report = json::parse(cwtrace->out());
    EXPECT_EQ(report.at("sockets").size(), static_cast<size_t>(kLeaks)) << report.dump(2);
    // The textfile got the final numbers at exit, and no temporary is left beside it.
    EXPECT_EQ(sample_value(slurp(textfile), "cwtrace_close_wait_sockets_all"),
              std::optional<double>(kLeaks));
    EXPECT_FALSE(fs::exists(textfile + ".tmp"));
}

// A taken port fails before tracing starts: exit 1, one line naming it, a hint.
TEST(MetricsAddr, PortInUseIsExit1BeforeTracing) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(listen(fd, 1), 0);
    ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    const std::string where = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));

    RunResult r = run_command({CWTRACE_BIN, "--metrics-addr", where, "-d", "5s"}, 20s);
    close(fd);
    if (r.exit_code == 1 && r.err.find("root") != std::string::npos && !bpf_required())
        GTEST_SKIP() << "not root: " << r.err;
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find(where), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("hint"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("tracing TCP"), std::string::npos)
        << "must fail before tracing: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace
