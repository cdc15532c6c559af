// A local user's FUSE filesystem whose daemon never answers cwtrace (issue 25): a process leaks
// a connection through a library it loaded from there, so symbolizing its opening path opens a
// file whose open never returns. That file may cost names, never tracing: `-d` ends on time, the
// leak is reported with its owner, the name lost is counted as a "slow" refusal, connections
// churned meanwhile are all seen, and /metrics keeps counting events. The daemon (hung_fuse)
// answers only its own child; it is stopped, unmounted and its connection closed (which
// releases every request still waiting) before the test ends, and a mount left behind by a
// crash is aborted and detached here.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "harness.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr auto kRun = 6s;
// Past the run: the final report, each hung file's time budget (1 s), exit.
constexpr auto kSlack = 4s;
constexpr int kChurn = 500;

// Connections that each pass through CLOSE_WAIT on this side (the peer closes first; read to
// the end, then closed): one event each.
void churn(int port, int n) {
    for (int i = 0; i < n; ++i) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        char buffer[256];
        while (read(fd, buffer, sizeof buffer) > 0) {
        }
        close(fd);
    }
}

// The device a mount point is, from mountinfo: how a left-behind FUSE connection is named in
// /sys/fs/fuse/connections (its minor number).
std::optional<unsigned> fuse_minor_at(const std::string& dir) {
    std::ifstream in("/proc/self/mountinfo");
    for (std::string line; std::getline(in, line);) {
        std::istringstream fields(line);
        std::string id, parent, dev, root, point;
        fields >> id >> parent >> dev >> root >> point;
        if (point == dir) return static_cast<unsigned>(std::stoul(dev.substr(dev.find(':') + 1)));
    }
    return std::nullopt;
}

// A loopback port free right now.
int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    const bool ok = fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    if (fd >= 0) close(fd);
    return ok ? ntohs(addr.sin_port) : -1;
}

// cwtrace_events_total from a GET of /metrics (a plain HTTP/1.0 request), or nullopt.
std::optional<double> events_total(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval timeout{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string response;
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        const std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
            char buffer[4096];
            for (ssize_t n; (n = read(fd, buffer, sizeof buffer)) > 0;) response.append(buffer, n);
        }
    }
    close(fd);
    const std::string series = "\ncwtrace_events_total ";
    const size_t at = response.find(series);
    if (at == std::string::npos) return std::nullopt;
    return std::stod(response.substr(at + series.size()));
}

class HungFilesystem : public ::testing::Test {
  protected:
    void SetUp() override {
        if (geteuid() != 0) return skip_or_fail("needs root, to mount a FUSE filesystem");
        if (access("/dev/fuse", R_OK | W_OK) != 0) return skip_or_fail("no /dev/fuse here");
        dir_ =
            (fs::temp_directory_path() / ("cwtrace-hungfs-" + std::to_string(getpid()))).string();
        fs::create_directories(dir_);
    }
    void TearDown() override {
        if (daemon_) {
            daemon_->signal(SIGTERM);
            EXPECT_EQ(daemon_->wait(10s), std::optional<int>(0)) << daemon_->err();
            daemon_.reset();
        }
        // Only after a crash: nothing may stay mounted, no request may stay waiting.
        if (auto minor = fuse_minor_at(dir_)) {
            ADD_FAILURE() << "the FUSE mount at " << dir_ << " was left behind";
            std::ofstream("/sys/fs/fuse/connections/" + std::to_string(*minor) + "/abort") << 1;
            umount2(dir_.c_str(), MNT_DETACH);
        }
        if (!dir_.empty()) fs::remove(dir_);
    }

    // Mounts the filesystem and has its child leak one connection to `port` through the
    // library served there; the child's pid.
    pid_t start_leaking_through_fuse(int port) {
        daemon_ = std::make_unique<Process>(
            std::vector<std::string>{FX_HUNG_FUSE, dir_, FX_HUNG_LIB, std::to_string(port)});
        auto ready = daemon_->wait_line("ready", 10s);
        EXPECT_TRUE(ready) << daemon_->err();
        return ready ? number_after_space(*ready) : -1;
    }

    std::string dir_;
    std::unique_ptr<Process> daemon_;
};

TEST_F(HungFilesystem, DurationEndsOnTimeAndTheLeakIsReported) {
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    auto cwtrace =
        start_cwtrace({"-d", std::to_string(kRun.count()) + "s", "--min-age", "1s", "-f", "json"});
    if (!cwtrace) return;
    const auto start = std::chrono::steady_clock::now();
    const pid_t leaker = start_leaking_through_fuse(port);
    ASSERT_GT(leaker, 0);
    // The first symbolization of the leak (a report, the map's read every 10 s) hangs on the
    // served library; churn meanwhile.
    std::this_thread::sleep_for(1500ms);
    churn(port, kChurn);
    const auto status = cwtrace->wait(kRun + kSlack);
    ASSERT_EQ(status, std::optional<int>(0)) << "cwtrace did not finish its -d on time\n"
                                             << cwtrace->err();
    EXPECT_LT(std::chrono::steady_clock::now() - start, kRun + kSlack);
    json report = json::parse(cwtrace->out(), nullptr, false);
    ASSERT_FALSE(report.is_discarded()) << cwtrace->out();
    const auto leaks = sockets_with_port(report, "remote", port);
    std::vector<json> leaked;
    for (const auto& s : leaks)
        if (s.at("pid") == leaker) leaked.push_back(s);
    ASSERT_EQ(leaked.size(), 1u) << report.dump();
    EXPECT_EQ(leaked[0].at("origin").at("pid"), leaker);
    const json& stats = report.at("stats");
    EXPECT_TRUE(nothing_dropped(stats));
    EXPECT_GE(stats.at("events").get<uint64_t>(), static_cast<uint64_t>(kChurn));
    EXPECT_GE(stats.at("files_refused").at("slow").get<uint64_t>(), 1u) << stats.dump();
}

TEST_F(HungFilesystem, MetricsKeepCountingWhileTheDaemonHangs) {
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    const int metrics_port = free_port();
    auto cwtrace = start_cwtrace({"--min-age", "1s", "-f", "json", "--metrics-addr",
                                  "127.0.0.1:" + std::to_string(metrics_port)});
    if (!cwtrace) return;
    ASSERT_GT(start_leaking_through_fuse(port), 0);
    // Past min-age, the metrics' report symbolizes the leak: the hang starts there.
    std::this_thread::sleep_for(2500ms);
    const auto before = events_total(metrics_port);
    ASSERT_TRUE(before) << "no /metrics answer while the daemon hangs\n" << cwtrace->err();
    churn(port, kChurn);
    // Refreshed every second, or less often after a costly refresh (at most a tenth of a CPU:
    // a first symbolization in a debug build takes ~0.5 s of CPU, then 5 s pass).
    std::optional<double> after;
    for (auto until = std::chrono::steady_clock::now() + 15s;
         std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(500ms)) {
        after = events_total(metrics_port);
        if (after && *after >= *before + kChurn) break;
    }
    const auto status = stop(*cwtrace);
    ASSERT_TRUE(after);
    EXPECT_GE(*after, *before + kChurn)
        << "cwtrace_events_total stood still while " << kChurn << " connections went by\n"
        << cwtrace->err();
    EXPECT_EQ(status, std::optional<int>(0)) << cwtrace->err();
}

}  // namespace
