// Integration tests of the report as a user reads it: the text report's groups, JSON Lines with
// --interval beside the final report in a file, and a live run drawn in every format. Root, real
// BPF, real CLOSE_WAIT sockets made by the fixtures.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "claims_support.h"
#include "harness.h"
#include "leak_checks.h"
#include "profile.pb.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

class Reports : public ::testing::Test {};

// The function names listed under a group's `heading` ("    user stack:"), one a line until the
// next heading: each line is "      NAME (MODULE, FILE:LINE)" or "      NAME [kernel]".
std::vector<std::string> text_section_functions(const std::vector<std::string>& group,
                                                const std::string& heading) {
    std::vector<std::string> names;
    auto it = std::find(group.begin(), group.end(), heading);
    if (it == group.end()) return names;
    for (++it; it != group.end() && it->starts_with("      "); ++it) {
        const std::string name = it->substr(6);
        names.push_back(name.substr(0, name.find(' ')));
    }
    return names;
}

// The lines of the text report's group ("#N ..." up to the next one) that has the line `wanted`.
std::vector<std::string> text_group_with_line(const std::string& text, const std::string& wanted) {
    std::vector<std::string> group;
    bool found = false;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with("#")) {
            if (found) break;
            group.clear();
        }
        group.push_back(line);
        found |= line == wanted;
    }
    return found ? group : std::vector<std::string>{};
}

// The text report's group for the client: its header counts the 4 sockets, its owner line and
// each socket line name the client's pid, its user stack lists the opening path exactly.
TEST_F(Reports, TextReportShowsOwnerAndOpeningPath) {
    auto cwtrace = start_cwtrace({"--min-age", "1s"});
    if (!cwtrace) return;
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    Process client({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "4"});
    ASSERT_TRUE(client.wait_line("ready", 5s));
    std::this_thread::sleep_for(1500ms);
    ASSERT_EQ(stop(*cwtrace, SIGTERM), std::optional<int>(0)) << cwtrace->err();
    const std::string& text = cwtrace->out();
    const std::string owner = "leaky_client[" + std::to_string(client.pid()) + "]";
    const std::string remote = "127.0.0.1:" + std::to_string(port);

    const auto group = text_group_with_line(text, "    remote: " + remote);
    ASSERT_FALSE(group.empty()) << text;
    // Headed by the fixture's own function, the first frame past libc's connect, at the line
    // of its connect() call (the fixture has debug info).
    const std::string own = "open_connection (leaky_client.c:" +
                            std::to_string(line_of(FX_DEBUG_CLIENT_SOURCE, "if (connect(fd,")) +
                            ")";
    EXPECT_NE(group[0].find(" 4 sockets opened in " + own + " by"), std::string::npos) << group[0];
    EXPECT_TRUE(contains(group, "    owner: " + owner)) << text;
    EXPECT_TRUE(starts_with_chain(text_section_functions(group, "    user stack:"),
                                  {"connect", "open_connection", "fetch_page", "crawl", "main"}))
        << text;
    // A C program's path has no run of library frames to fold: every frame stays on its line.
    for (const auto& line : group) EXPECT_EQ(line.find(" frames in "), std::string::npos) << line;
    EXPECT_TRUE(contains(text_section_functions(group, "    kernel stack:"), "tcp_v4_connect"))
        << text;
    // "LOCAL -> REMOTE  AGE  OWNER  ...", columns padded: each of the 4 sockets, the client its
    // owner.
    size_t socket_lines = 0;
    for (const auto& line : group) {
        std::istringstream columns(line);
        std::vector<std::string> words{std::istream_iterator<std::string>(columns), {}};
        if (words.size() < 5 || words[1] != "->" || words[2] != remote) continue;
        ++socket_lines;
        EXPECT_EQ(words[4], owner) << line;
    }
    EXPECT_EQ(socket_lines, 4u) << text;
}

// --interval prints JSON Lines while running; -o gets the final report only.
TEST_F(Reports, IntervalStreamsJsonLinesAndOutputFileGetsTheFinalReport) {
    const std::string path = ::testing::TempDir() + "cwtrace-final.json";
    std::remove(path.c_str());
    auto cwtrace =
        start_cwtrace({"--min-age", "0s", "-f", "json", "-i", "500ms", "-d", "2600ms", "-o", path});
    if (!cwtrace) return;
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    Process client({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "1"});
    ASSERT_TRUE(client.wait_line("ready", 5s));
    ASSERT_EQ(cwtrace->wait(15s), std::optional<int>(0)) << cwtrace->err();

    std::vector<json> lines;
    std::istringstream out(cwtrace->out());
    for (std::string line; std::getline(out, line);) lines.push_back(json::parse(line));
    // Five are due (0.5 s apart in 2.6 s); under load one comes late and the loop skips those it
    // missed, so only a stream of several, each later than the one before, is certain.
    ASSERT_GE(lines.size(), 2u) << cwtrace->out();
    EXPECT_LE(lines.size(), 6u) << cwtrace->out();
    for (size_t i = 1; i < lines.size(); ++i)
        EXPECT_GT(lines[i].at("tracing_seconds").get<double>(),
                  lines[i - 1].at("tracing_seconds").get<double>())
            << cwtrace->out();
    for (const auto& doc : lines) EXPECT_EQ(doc.at("schema"), "cwtrace.report/1");
    EXPECT_EQ(sockets_with_port(lines.back(), "remote", port).size(), 1u) << cwtrace->out();

    std::ifstream file(path);
    ASSERT_TRUE(file.good()) << path;
    json final_report = json::parse(file);
    EXPECT_EQ(sockets_with_port(final_report, "remote", port).size(), 1u);
    EXPECT_GE(final_report.at("tracing_seconds").get<double>(), 2.6);
}

// A live run of the leaking fixture drawn in every format. One cwtrace writes its final report
// to leaks.svg (the format from the name) with --interval text reports on stdout; another saves
// leaks.json, which `cwtrace render` (no tracing) draws as folded, speedscope, pprof and SVG.
// Each shows the fixture's opening path with its 3 sockets.
TEST_F(Reports, LiveRunDrawnInEveryFormat) {
    char dir_template[] = "/tmp/cwtrace-flame-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    const std::string dir = dir_template;
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    // The client exists before cwtrace starts (so --pid can name it) and connects when both
    // runs trace (told by SIGUSR1; a fixed wait lost the race to two sanitizer builds' start).
    Process client({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "3", "-w", "30"});
    const std::string pid = std::to_string(client.pid());
    auto svg_run = start_cwtrace(
        {"--min-age", "1s", "-d", "6s", "-i", "1s", "--pid", pid, "-o", dir + "/leaks.svg"});
    if (!svg_run) return;
    auto json_run =
        start_cwtrace({"--min-age", "1s", "-d", "6s", "--pid", pid, "-o", dir + "/leaks.json"});
    if (!json_run) return;
    ASSERT_TRUE(client.wait_line("waiting", 10s)) << client.err();
    client.signal(SIGUSR1);
    ASSERT_TRUE(client.wait_line("ready", 10s)) << client.err();
    ASSERT_EQ(svg_run->wait(30s), std::optional<int>(0)) << svg_run->err();
    ASSERT_EQ(json_run->wait(30s), std::optional<int>(0)) << json_run->err();

    // --interval reports went to stdout as text; the final report went to the file as SVG.
    EXPECT_NE(svg_run->out().find("cwtrace: tracing "), std::string::npos) << svg_run->out();
    const std::string svg = slurp(dir + "/leaks.svg");
    ASSERT_EQ(svg.rfind("<?xml", 0), 0u) << svg.substr(0, 200);
    EXPECT_NE(svg.find("data-total=\"3\""), std::string::npos);
    EXPECT_NE(svg.find("data-w=\"3\" data-d=\"1\" data-n=\"leaky_client\""), std::string::npos);
    EXPECT_NE(svg.find("data-n=\"open_connection\""), std::string::npos);

    auto render = [&](const std::string& name) {
        RunResult r =
            run_command({CWTRACE_BIN, "render", dir + "/leaks.json", "-o", dir + name}, 10s);
        EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
        return slurp(dir + name);
    };
    // Folded: one line, root first, user then kernel frames (marked), 3 sockets.
    const std::string folded = render("/leaks.folded");
    EXPECT_EQ(std::count(folded.begin(), folded.end(), '\n'), 1) << folded;
    EXPECT_EQ(folded.rfind("leaky_client;", 0), 0u) << folded;
    EXPECT_NE(folded.find(";crawl;fetch_page;open_connection;"), std::string::npos) << folded;
    EXPECT_NE(folded.find(";tcp_v4_connect_[k]"), std::string::npos) << folded;
    EXPECT_EQ(folded.substr(folded.rfind(' ')), " 3\n") << folded;

    // speedscope: a sampled profile whose weights add up to the 3 sockets.
    const json speedscope = json::parse(render("/leaks.speedscope.json"));
    const auto& profile = speedscope.at("profiles").at(0);
    EXPECT_EQ(profile.at("type"), "sampled");
    int weight = 0;
    for (const auto& w : profile.at("weights")) weight += w.get<int>();
    EXPECT_EQ(weight, 3);

    // pprof: gzip, read back by protobuf, 3 sockets labelled leaky_client.
    const std::string gz = render("/leaks.pb.gz");
    ASSERT_GE(gz.size(), 2u);
    EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);
    EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
    RunResult gunzip = run_command(
        {"/bin/sh", "-c", "gzip -dc < '" + dir + "/leaks.pb.gz' > '" + dir + "/leaks.pb'"}, 10s);
    ASSERT_EQ(gunzip.exit_code, 0) << gunzip.err;
    perftools::profiles::Profile pprof;
    ASSERT_TRUE(pprof.ParseFromString(slurp(dir + "/leaks.pb")));
    int64_t total = 0;
    for (const auto& s : pprof.sample()) {
        total += s.value(0);
        EXPECT_EQ(pprof.string_table(static_cast<int>(s.label(0).str())), "leaky_client");
    }
    EXPECT_EQ(total, 3);

    // The SVG drawn from the saved report draws the same tower.
    EXPECT_NE(render("/drawn.svg").find("data-n=\"open_connection\""), std::string::npos);

    // render on a malformed report: one line naming the problem, exit 2.
    std::ofstream(dir + "/bad.json") << "{\"schema\": \"cwtrace.report/1\", \"sockets\": 3}";
    RunResult bad = run_command({CWTRACE_BIN, "render", dir + "/bad.json", "-f", "svg"}, 10s);
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
    EXPECT_NE(bad.err.find("min_age_seconds: missing"), std::string::npos) << bad.err;
    EXPECT_TRUE(bad.out.empty());
    std::filesystem::remove_all(dir);
}

}  // namespace
