// Integration tests of late closes: who took a socket out of CLOSE_WAIT, how, after how
// long, and the time in CLOSE_WAIT per opening path. Real BPF, the leaky_client fixture on
// loopback; assertions on the JSON report and its text rendering.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "harness.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// The late-close groups with a socket to `port`, and that socket.
std::vector<std::pair<json, json>> late_closes_to(const json& report, int port) {
    std::vector<std::pair<json, json>> out;
    for (const auto& g : report.at("late_closes"))
        for (const auto& s : g.at("sockets"))
            if (s.at("remote").at("port").get<int>() == port) out.emplace_back(g, s);
    return out;
}

// Histograms of the opening paths whose user stack has `function`.
std::vector<json> durations_through(const json& report, const std::string& function) {
    std::vector<json> out;
    for (const auto& d : report.at("close_wait_durations"))
        if (contains(function_names(d.at("opening").at("user_stack")), function)) out.push_back(d);
    return out;
}

uint64_t count_where(const json& durations, bool (*pick)(const json& bucket)) {
    uint64_t n = 0;
    for (const auto& b : durations.at("buckets"))
        if (pick(b)) n += b.at("count").get<uint64_t>();
    return n;
}

}  // namespace

// One fixture closes its idle connection from reap_idle_connections() 3 s after the peer closed;
// another is still holding its own when it exits. Healthy connections of the same program close
// at once. The report names each late closer, how it closed, its stack and how long it waited.
TEST(LateCloses, WhoClosedHowAndAfterHowLong) {
    auto cwtrace = start_cwtrace({"--min-age", "1s", "-f", "json"});
    if (!cwtrace) return;
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    ASSERT_NE(port, 0);

    Process exiter({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "1"});
    ASSERT_TRUE(exiter.wait_line("ready", 5s)) << exiter.err();
    const auto exiter_ready = std::chrono::steady_clock::now();
    Process reaper({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "1", "-g", "20", "-c", "3"});
    ASSERT_TRUE(reaper.wait_line("ready", 5s)) << reaper.err();
    std::this_thread::sleep_for(2s);
    const double exiter_waited = seconds_since(exiter_ready);
    exiter.signal(SIGTERM);  // returns from main: its socket is closed by exit
    ASSERT_EQ(exiter.wait(5s), std::optional<int>(0));
    ASSERT_TRUE(reaper.wait_line("closed", 5s)) << reaper.err();
    std::this_thread::sleep_for(300ms);

    ASSERT_EQ(stop(*cwtrace), std::optional<int>(0)) << cwtrace->err();
    const json report = json::parse(cwtrace->out());
    const auto late = late_closes_to(report, port);
    ASSERT_EQ(late.size(), 2u) << report.at("late_closes").dump(2);

    bool saw_reaper = false, saw_exiter = false;
    for (const auto& [group, socket] : late) {
        const json& closing = group.at("closing");
        const auto opening = function_names(group.at("opening").at("user_stack"));
        EXPECT_TRUE(contains(opening, "fetch_page")) << joined(opening);
        EXPECT_EQ(socket.at("comm"), "leaky_client");
        if (closing.at("pid") == reaper.pid()) {
            saw_reaper = true;
            EXPECT_EQ(closing.at("kind"), "close");
            EXPECT_EQ(closing.at("tid"), reaper.pid());
            EXPECT_EQ(closing.at("comm"), "leaky_client");
            EXPECT_EQ(socket.at("closer").at("pid"), reaper.pid());
            const auto user = function_names(closing.at("user_stack"));
            EXPECT_TRUE(contains(user, "reap_idle_connections")) << joined(user);
            EXPECT_TRUE(contains(user, "main")) << joined(user);
            const auto kernel = function_names(closing.at("kernel_stack"));
            EXPECT_TRUE(contains(kernel, "tcp_close") || contains(kernel, "__tcp_close"))
                << joined(kernel);
            const double waited = socket.at("close_wait_seconds").get<double>();
            EXPECT_GE(waited, 2.9);  // sleep(3) after the peer's FIN
            EXPECT_LE(waited, 4.0);
        } else {
            saw_exiter = true;
            EXPECT_EQ(closing.at("kind"), "exit") << group.dump(2);
            EXPECT_EQ(closing.at("pid"), exiter.pid());
            EXPECT_EQ(socket.at("closer").at("pid"), exiter.pid());
            const double waited = socket.at("close_wait_seconds").get<double>();
            EXPECT_GE(waited, exiter_waited - 0.05);
            EXPECT_LE(waited, exiter_waited + 1.0);
        }
    }
    EXPECT_TRUE(saw_reaper && saw_exiter) << report.at("late_closes").dump(2);

    // Healthy closes (read to EOF, close at once) in sub-millisecond buckets; the late path's in
    // the seconds.
    const auto healthy = durations_through(report, "fetch_page_properly");
    ASSERT_EQ(healthy.size(), 1u) << report.at("close_wait_durations").dump(2);
    const uint64_t sub_ms = count_where(healthy[0], [](const json& b) {
        return !b.at("upper_us").is_null() && b.at("upper_us").get<uint64_t>() <= 1024;
    });
    EXPECT_GE(healthy[0].at("count").get<uint64_t>(), 20u);
    EXPECT_GE(sub_ms * 10, healthy[0].at("count").get<uint64_t>() * 9)
        << "most healthy closes under 1 ms: " << healthy[0].dump(2);
    uint64_t leaky_in_seconds = 0;
    for (const auto& d : durations_through(report, "crawl"))
        leaky_in_seconds += count_where(d, [](const json& b) {
            return b.at("lower_us").get<uint64_t>() >= 1'000'000 && !b.at("upper_us").is_null() &&
                   b.at("upper_us").get<uint64_t>() <= 8'388'608;
        });
    EXPECT_GE(leaky_in_seconds, 2u) << report.at("close_wait_durations").dump(2);

    // The saved report renders as text with its late closes and histograms (render round trip).
    const std::string path = ::testing::TempDir() + "cwtrace-lateclose.json";
    std::ofstream(path) << cwtrace->out();
    RunResult text = run_command({CWTRACE_BIN, "render", path, "-f", "text"}, 10s);
    ASSERT_EQ(text.exit_code, 0) << text.err;
    for (const std::string& needle :
         {std::string("Late closes"), std::string("reap_idle_connections"),
          std::string("closed by its process exiting"), std::string("distribution")})
        EXPECT_NE(text.out.find(needle), std::string::npos) << needle << " in:\n" << text.out;
}
