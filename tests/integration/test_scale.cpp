// Integration tests of a burst beyond the opener map: the openers not recorded are counted
// exactly, the report names the map's size they hit and what raises it, and their sockets are
// still reported with their owner. Real BPF and fixture programs.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "harness.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

// Runs of white space (a wrapped line) as one space.
std::string one_line(const std::string& text) {
    std::string out;
    for (char c : text) {
        const bool space = c == ' ' || c == '\n' || c == '\t';
        if (!space || out.empty() || out.back() != ' ') out += space ? ' ' : c;
    }
    return out;
}

}  // namespace

// 100 connections opened by one process against a 64-entry opener map: with --pid only that
// process's openings are recorded, so exactly 36 are not, and the report says so and why.
TEST(Scale, OpenersBeyondTheMapAreCountedWithItsSizeAndTheirSocketsKeepTheirOwner) {
    constexpr int kLeaks = 100, kEntries = 64;
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    Process client(
        {FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", std::to_string(kLeaks), "-w", "20"});
    ASSERT_TRUE(client.wait_line("waiting", 5s)) << client.err();
    auto cwtrace =
        start_cwtrace({"-f", "json", "--min-age", "0s", "--pid", std::to_string(client.pid())},
                      {"CWTRACE_ORIGIN_MAP_ENTRIES=" + std::to_string(kEntries)});
    if (!cwtrace) return;
    client.signal(SIGUSR1);  // attached: now the leaks
    ASSERT_TRUE(client.wait_line("ready", 10s)) << client.err();
    const json report = stop_with_report(*cwtrace);
    expect_schema_valid(cwtrace->out());

    const json& stats = report.at("stats");
    EXPECT_EQ(stats.at("lost").at("origin_map_full"), kLeaks - kEntries) << stats.dump();
    EXPECT_EQ(stats.at("origin_map_entries"), kEntries) << stats.dump();
    EXPECT_GE(stats.at("lost_events").get<int>(), kLeaks - kEntries);
    const std::vector<json> leaked = sockets_with_port(report, "remote", port);
    ASSERT_EQ(leaked.size(), size_t{kLeaks}) << report.dump(1);
    int with_opener = 0;
    for (const json& s : leaked) {
        EXPECT_EQ(s.at("pid"), client.pid());  // every one with its owner
        if (s.at("origin").at("pid").is_null()) continue;
        ++with_opener;
        EXPECT_TRUE(contains(function_names(s.at("origin").at("user_stack")), "open_connection"));
    }
    EXPECT_EQ(with_opener, kEntries);

    // The text says it in words, with the size and the setting that raises it.
    const std::string saved = "/tmp/cwtrace-scale-" + std::to_string(getpid()) + ".json";
    std::ofstream(saved) << cwtrace->out();
    const RunResult text = run_command({CWTRACE_BIN, "render", saved}, 20s);
    std::remove(saved.c_str());
    ASSERT_EQ(text.exit_code, 0) << text.err;
    EXPECT_NE(one_line(text.out).find(
                  "36 openers not recorded: the opener map was full at its 64 entries "
                  "(CWTRACE_ORIGIN_MAP_ENTRIES raises it); their sockets show no opening path"),
              std::string::npos)
        << text.out;
}
