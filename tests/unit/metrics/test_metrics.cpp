// Continuous mode: the Prometheus exposition of a fixed snapshot against a golden file, label
// escaping, the top-N aggregation of label series, the atomic textfile, the HTTP server.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "app/cli.h"
#include "metrics/metrics.h"
#include "metrics/metrics_server.h"
#include "metrics/metrics_textfile.h"
#include "report_fixtures.h"

namespace cwtrace {
namespace {

using fixtures::connect_origin;
using fixtures::sock4;
using fixtures::sock6;

Report leaks(std::vector<std::pair<std::string, std::string>> comm_remote) {
    Report r;
    r.min_age_seconds = 30;
    for (auto& [comm, remote] : comm_remote)
        r.sockets.push_back(
            sock4("10.0.0.1", 40000, remote, 443, 60, 1234, comm, connect_origin(1234, comm, {})));
    return r;
}

// Two series, an owner gone (the opener's comm is used), one with nothing known, a comm
// needing escapes, an IPv6 remote, a pod's process with its opening function; durations on both
// sides of bucket edges; lost events.
MetricsSnapshot fixed_snapshot() {
    Report r = fixtures::base_report(1234);
    r.min_age_seconds = 30;
    auto client = connect_origin(4242, "python3", {});
    for (int i = 0; i < 3; ++i)
        r.sockets.push_back(
            sock4("10.0.0.1", 40000 + i, "10.0.0.2", 8080, 90 + i, 4242, "python3", client));
    r.sockets.push_back(sock4("10.0.0.1", 40010, "10.0.0.3", 5432, 45, std::nullopt, std::nullopt,
                              connect_origin(77, "worker", {})));
    r.sockets.push_back(
        sock4("10.0.0.1", 40011, "10.0.0.3", 5432, 45, std::nullopt, std::nullopt, Origin{}));
    r.sockets.push_back(sock6("::1", 50000, "fe80::1", 80, 31, 99, "we\"ird\\na\nme",
                              connect_origin(99, "we\"ird\\na\nme", {})));
    // A pod's process, opened through its own function: every label of the CLOSE_WAIT gauges.
    auto api = connect_origin(
        31, "api",
        {fixtures::uf("connect", fixtures::kLibc), fixtures::uf("charge_card", "/app/api")});
    api.own_frame = 1;
    auto pod = std::make_shared<OwnerDetails>();
    pod->pod = "api-7d9f";
    pod->namespace_name = "payments";
    pod->container = "web";
    r.sockets.push_back(sock4("10.0.0.1", 40020, "10.0.0.4", 443, 1000.5, 31, "api", api));
    r.sockets.back().owner = pod;
    r.stats.ringbuf_full = 3;
    r.stats.stacks_lost = 2;
    r.stats.python_stacks_lost = 4;
    r.stats.lost_events = 9;
    r.stats.files_refused = {{"not_regular", 0}, {"slow", 4}};
    r.stats.stacks_recycled = 7;
    r.stats.stale_stacks = 1;

    Log2Histogram h;
    for (double s : {0.5e-6, 3e-6, 4e-6, 15e-6, 0.001, 0.25, 95.0, 95.0, 3600.0, 30 * 86400.0})
        h.add(s);
    return make_snapshot(r, h, 20, "1.2.3");
}

TEST(MetricsGolden, FixedSnapshot) {
    fixtures::expect_golden("metrics.prom", render_metrics(fixed_snapshot()));
}

// The numbers a scraper reads, independently of the golden's spelling.
TEST(Metrics, HistogramIsCumulativeAndMatchesCount) {
    const std::string text = render_metrics(fixed_snapshot());
    EXPECT_NE(text.find("cwtrace_close_wait_duration_seconds_bucket{le=\"4e-06\"} 2\n"),
              std::string::npos)
        << "0.5us and 3us are below 4us; 4us itself is not: " << text;
    EXPECT_NE(text.find("cwtrace_close_wait_duration_seconds_bucket{le=\"1.6e-05\"} 4\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("cwtrace_close_wait_duration_seconds_bucket{le=\"+Inf\"} 10\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("cwtrace_close_wait_duration_seconds_count 10\n"), std::string::npos);
    uint64_t previous = 0;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        if (!line.starts_with("cwtrace_close_wait_duration_seconds_bucket")) continue;
        const uint64_t n = std::stoull(line.substr(line.rfind(' ') + 1));
        EXPECT_GE(n, previous) << line;
        previous = n;
    }
}

TEST(Metrics, BucketBoundsAreIncreasingEveryOtherPowerOfTwo) {
    const auto bounds = metrics_bucket_bounds();
    ASSERT_EQ(bounds.size(), 21u);
    EXPECT_DOUBLE_EQ(bounds.front(), 4e-6);
    EXPECT_DOUBLE_EQ(bounds[1], 16e-6);
    EXPECT_NEAR(bounds[19], std::ldexp(1.0, 40) * 1e-6, 1e-6);
    EXPECT_TRUE(std::isinf(bounds.back()));
    for (size_t i = 1; i + 1 < bounds.size(); ++i) EXPECT_DOUBLE_EQ(bounds[i], bounds[i - 1] * 4);
}

TEST(Metrics, LabelValuesAreEscaped) {
    EXPECT_EQ(escape_label_value("plain"), "plain");
    EXPECT_EQ(escape_label_value("a\"b"), "a\\\"b");
    EXPECT_EQ(escape_label_value("a\\b"), "a\\\\b");
    EXPECT_EQ(escape_label_value("caf\xC3\xA9"), "caf\xC3\xA9");
    // Issue 25: only \, " and newline were escaped; a comm with ESC or BEL reached whoever
    // looked at the scrape in a terminal. Every byte the reports escape is escaped as they do
    // (\xNN, its backslash escaped for the format): the label reads as the report's string.
    EXPECT_EQ(escape_label_value("a\nb"), "a\\\\x0ab");
    EXPECT_EQ(escape_label_value("\x1b]0;owned\x07"), "\\\\x1b]0;owned\\\\x07");
    EXPECT_EQ(escape_label_value("tab\there\r"), "tab\\\\x09here\\\\x0d");
    EXPECT_EQ(escape_label_value("c1\xC2\x9B"), "c1\\\\xc2\\\\x9b");  // CSI, as UTF-8
    EXPECT_EQ(escape_label_value("\xE2\x80\xAEgpj.exe"), "\\\\xe2\\\\x80\\\\xaegpj.exe");  // RLO
    // Prometheus rejects a whole scrape for invalid UTF-8: each bad byte is written out.
    EXPECT_EQ(escape_label_value("x\xFFy"), "x\\\\xffy");
    EXPECT_EQ(escape_label_value("\xC3"), "\\\\xc3");                        // truncated sequence
    EXPECT_EQ(escape_label_value("\xC0\xAF"), "\\\\xc0\\\\xaf");             // overlong '/'
    EXPECT_EQ(escape_label_value("\xED\xA0\x80"), "\\\\xed\\\\xa0\\\\x80");  // a surrogate
}

TEST(Metrics, TopSeriesKeepsTheLargestAndSumsTheRestAsOther) {
    Report r = leaks({{"a", "1.1.1.1"},
                      {"a", "1.1.1.1"},
                      {"a", "1.1.1.1"},  // 3
                      {"b", "2.2.2.2"},
                      {"b", "2.2.2.2"},  // 2
                      {"c", "3.3.3.3"},
                      {"d", "4.4.4.4"},
                      {"a", "5.5.5.5"}});
    auto top = top_series(r, 2);
    ASSERT_EQ(top.size(), 3u);
    EXPECT_EQ(top[0].comm, "a");
    EXPECT_EQ(top[0].remote, "1.1.1.1");
    EXPECT_EQ(top[0].sockets, 3u);
    EXPECT_EQ(top[1].comm, "b");
    EXPECT_EQ(top[1].sockets, 2u);
    EXPECT_EQ(top[2].comm, "other");
    EXPECT_EQ(top[2].remote, "other");
    EXPECT_EQ(top[2].sockets, 3u);

    uint64_t sum = 0;
    for (const auto& s : top) sum += s.sockets;
    EXPECT_EQ(sum, r.sockets.size()) << "aggregation loses no socket";

    // Ties are broken by name, so the kept series do not flap between refreshes.
    auto ties = top_series(leaks({{"z", "9.9.9.9"}, {"m", "1.1.1.1"}, {"a", "5.5.5.5"}}), 2);
    ASSERT_EQ(ties.size(), 3u);
    EXPECT_EQ(ties[0].comm, "a");
    EXPECT_EQ(ties[1].comm, "m");
    EXPECT_EQ(ties[2].sockets, 1u);
}

TEST(Metrics, TopSeriesWithoutOverflowHasNoOther) {
    auto top = top_series(leaks({{"a", "1.1.1.1"}, {"b", "2.2.2.2"}}), 2);
    ASSERT_EQ(top.size(), 2u);
    for (const auto& s : top) EXPECT_NE(s.comm, "other");
    EXPECT_TRUE(top_series(Report{}, 5).empty());
}

TEST(Metrics, RemoteLabelHasNoPortAndCommFallsBackToTheOpener) {
    auto snapshot = fixed_snapshot();
    const std::string text = render_metrics(snapshot);
    EXPECT_NE(text.find("cwtrace_close_wait_sockets{comm=\"python3\",remote=\"10.0.0.2\"} 3\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("cwtrace_close_wait_sockets{comm=\"worker\",remote=\"10.0.0.3\"} 1\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("cwtrace_close_wait_sockets{comm=\"unknown\",remote=\"10.0.0.3\"} 1\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("cwtrace_close_wait_sockets_all 7\n"), std::string::npos) << text;
}

class TempDir {
  public:
    TempDir() {
        char tmpl[] = "/tmp/cwtrace-metrics-XXXXXX";
        path_ = mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    std::string path(const std::string& name) const { return path_ + "/" + name; }

  private:
    std::string path_;
};

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

TEST(MetricsTextfile, ReplacesTheFileAtomicallyAndLeavesNoTemporary) {
    TempDir dir;
    const std::string path = dir.path("cwtrace.prom");
    ASSERT_TRUE(write_textfile_atomically(path, "first 1\n"));
    EXPECT_EQ(slurp(path), "first 1\n");

    // A reader holding the old file keeps reading the old text: the new one is a new inode.
    std::ifstream reader(path, std::ios::binary);
    struct stat before = {};
    ASSERT_EQ(stat(path.c_str(), &before), 0);
    ASSERT_TRUE(write_textfile_atomically(path, "second 2\n"));
    struct stat after = {};
    ASSERT_EQ(stat(path.c_str(), &after), 0);
    EXPECT_NE(before.st_ino, after.st_ino) << "renamed over, not rewritten in place";
    std::stringstream old_text;
    old_text << reader.rdbuf();
    EXPECT_EQ(old_text.str(), "first 1\n");
    EXPECT_EQ(slurp(path), "second 2\n");
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
    EXPECT_EQ(after.st_mode & 0777, 0644u) << "the collector (another user) must read it";
}

// What makes a write fail keeps the previous file is util/atomic_file's (test_atomic_file.cpp):
// here, the error names the flag and the path.
TEST(MetricsTextfile, FailureIsAnErrorNamingThePath) {
    TempDir dir;
    const std::string path = dir.path("cwtrace.prom");
    std::filesystem::create_directory(path);  // nothing can replace it
    auto written = write_textfile_atomically(path, "lost 2\n");
    ASSERT_FALSE(written);
    EXPECT_EQ(written.error().message,
              "--metrics-textfile: cannot write " + path + ": Is a directory");
    EXPECT_TRUE(std::filesystem::is_directory(path));
    EXPECT_FALSE(write_textfile_atomically(dir.path("no/such/dir.prom"), "x\n"));
}

TEST(MetricsAddr, ParsesHostAndPort) {
    auto v4 = parse_metrics_addr("127.0.0.1:9464");
    ASSERT_TRUE(v4);
    EXPECT_EQ(v4->host, "127.0.0.1");
    EXPECT_EQ(v4->port, 9464);
    auto v6 = parse_metrics_addr("[::1]:80");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(v6->port, 80);
    auto any = parse_metrics_addr(":9464");
    ASSERT_TRUE(any);
    EXPECT_EQ(any->host, "");
    auto name = parse_metrics_addr("localhost:65535");
    ASSERT_TRUE(name);
    EXPECT_EQ(name->host, "localhost");
    for (const char* bad :
         {"", "9464", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:94x",
          "::1:9464", "[::1]", "[::1]9464", "[]:9464", "host:-1", "host: 80"})
        EXPECT_FALSE(parse_metrics_addr(bad)) << bad;
}

CliResult cli(std::vector<const char*> args) {
    args.insert(args.begin(), "cwtrace");
    return parse_cli(static_cast<int>(args.size()), args.data());
}

TEST(MetricsCli, BadValuesAreOneLineNamingThemAndExit2) {
    const std::vector<std::pair<std::vector<const char*>, std::string>> bad = {
        {{"--metrics-addr", "9464"}, "'9464'"},
        {{"--metrics-addr", "127.0.0.1:99999"}, "'127.0.0.1:99999'"},
        {{"--metrics-addr", "::1:9464"}, "'::1:9464'"},
        {{"--metrics-top", "0"}, "'0'"},
        {{"--metrics-top", "many"}, "'many'"},
        {{"--metrics-textfile", "/nonexistent-dir/cwtrace.prom"}, "/nonexistent-dir"},
        {{"--metrics-textfile", "/tmp"}, "'/tmp'"},
    };
    for (const auto& [args, named] : bad) {
        CliResult r = cli(args);
        EXPECT_EQ(r.exit_code, 2) << args[0] << " " << args[1];
        EXPECT_FALSE(r.options);
        EXPECT_NE(r.message.find(named), std::string::npos) << r.message;
        EXPECT_NE(r.message.find(args[0]), std::string::npos) << r.message;
        EXPECT_EQ(std::count(r.message.begin(), r.message.end(), '\n'), 1) << r.message;
    }
}

TEST(MetricsCli, GoodValuesReachTheOptions) {
    CliResult r = cli({"--metrics-addr", "[::1]:9464", "--metrics-textfile", "/tmp/cw.prom",
                       "--metrics-top", "5"});
    ASSERT_TRUE(r.options) << r.message;
    ASSERT_TRUE(r.options->metrics_addr);
    EXPECT_EQ(r.options->metrics_addr->host, "::1");
    EXPECT_EQ(r.options->metrics_addr->port, 9464);
    EXPECT_EQ(r.options->metrics_textfile, "/tmp/cw.prom");
    EXPECT_EQ(r.options->metrics_top, 5u);
    CliResult plain = cli({});
    ASSERT_TRUE(plain.options);
    EXPECT_FALSE(plain.options->metrics_addr);
    EXPECT_EQ(plain.options->metrics_top, 20u);
    EXPECT_EQ(cli({"render", "x.json", "--metrics-addr", ":9464"}).exit_code, 2);
}

TEST(MetricsCli, HelpSaysHowSeriesAreBounded) {
    CliResult r = cli({"--help"});
    EXPECT_NE(r.message.find("--metrics-top"), std::string::npos);
    EXPECT_NE(r.message.find("comm=\"other\""), std::string::npos) << r.message;
}

// The server answers from the last published text, on a thread of its own.
TEST(MetricsServer, ServesThePublishedTextAndRefusesATakenPort) {
    auto server = MetricsServer::start("127.0.0.1", 0);  // 0: any free port (tests only)
    ASSERT_TRUE(server) << server.error().message;
    const uint16_t port = (*server)->port();
    ASSERT_NE(port, 0);

    httplib::Client client("127.0.0.1", port);
    auto starting = client.Get("/metrics");
    ASSERT_TRUE(starting) << httplib::to_string(starting.error());
    EXPECT_EQ(starting->status, 503);

    (*server)->publish(std::make_shared<const std::string>("cwtrace_events_total 7\n"));
    auto scraped = client.Get("/metrics");
    ASSERT_TRUE(scraped);
    EXPECT_EQ(scraped->status, 200);
    EXPECT_EQ(scraped->body, "cwtrace_events_total 7\n");
    EXPECT_EQ(scraped->get_header_value("Content-Type"), kMetricsContentType);
    auto missing = client.Get("/nothing");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404);

    auto second = MetricsServer::start("127.0.0.1", port);
    ASSERT_FALSE(second) << "a second server on a taken port must fail, not share it";
    EXPECT_NE(second.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos)
        << second.error().message;
    EXPECT_FALSE(second.error().hint.empty());
}

}  // namespace
}  // namespace cwtrace
