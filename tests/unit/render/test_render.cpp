// Renderer tests: fixed reports compared byte for byte with tests/golden/<case>.{txt,json},
// plus properties checked directly (JSON parses back, lines fit 80 columns, losses are shown).
// A missing or different golden fails; CWTRACE_BLESS=1 (scripts/bless-goldens) rewrites them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "model/report.h"
#include "render/render.h"
#include "report_fixtures.h"

namespace cwtrace {
namespace {

using namespace fixtures;

// ---- Golden files ----

class RenderGolden : public testing::TestWithParam<Case> {};

TEST_P(RenderGolden, Text) {
    expect_golden(std::string(GetParam().name) + ".txt", render_text(GetParam().make()));
}

TEST_P(RenderGolden, Json) {
    expect_golden(std::string(GetParam().name) + ".json", render_json(GetParam().make()));
}

INSTANTIATE_TEST_SUITE_P(Cases, RenderGolden, testing::ValuesIn(cases()), case_name);

// ---- Properties of every case ----

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

size_t code_points(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

void expect_fits_80_columns(const std::string& text) {
    for (const auto& line : lines_of(text))
        EXPECT_LE(code_points(line), 80u) << "line too wide: " << line;
}

class RenderProps : public testing::TestWithParam<Case> {};

TEST_P(RenderProps, TextFits80ColumnsAndEndsWithNewline) {
    const std::string text = render_text(GetParam().make());
    expect_fits_80_columns(text);
    ASSERT_FALSE(text.empty());
    EXPECT_EQ(text.back(), '\n');
}

TEST_P(RenderProps, TextHasNoControlCharacters) {
    for (unsigned char c : render_text(GetParam().make()))
        EXPECT_TRUE(c == '\n' || (c >= 0x20 && c != 0x7f)) << "control byte " << int(c);
}

TEST_P(RenderProps, SameReportSameBytes) {
    const Report r = GetParam().make();
    EXPECT_EQ(render_text(r), render_text(r));
    EXPECT_EQ(render_json(r), render_json(r));
}

TEST_P(RenderProps, JsonIsOneLineThatParsesBack) {
    const Report r = GetParam().make();
    const std::string out = render_json(r);
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(out.find('\n'), out.size() - 1) << "JSON must be one line ending in a newline";
    const auto j = nlohmann::json::parse(out);
    EXPECT_EQ(j.at("schema"), "cwtrace.report/1");
    ASSERT_TRUE(j.at("sockets").is_array());
    ASSERT_EQ(j.at("sockets").size(), r.sockets.size());
    for (size_t i = 0; i < r.sockets.size(); ++i) {
        const auto& js = j["sockets"][i];
        const auto& s = r.sockets[i];
        EXPECT_EQ(js.at("pid").is_null(), !s.pid.has_value());
        EXPECT_EQ(js.at("comm").is_null(), !s.comm.has_value());
        EXPECT_EQ(js.at("family"), s.inet6 ? "inet6" : "inet");
        EXPECT_EQ(js.at("local").at("port"), s.local.port);
        EXPECT_EQ(js.at("origin").at("kind"), to_string(s.origin->kind));
        EXPECT_EQ(js.at("origin").at("user_stack").size(), s.origin->user_stack.size());
        EXPECT_EQ(js.at("origin").at("kernel_stack").size(), s.origin->kernel_stack.size());
    }
    EXPECT_EQ(j.at("stats").at("events"), r.stats.events);
    EXPECT_EQ(j.at("stats").at("lost_events"), r.stats.lost_events);
}

TEST_P(RenderProps, LostEventsLineIffLost) {
    const Report r = GetParam().make();
    const std::string text = render_text(r);
    const bool warned =
        text.find("WARNING:") != std::string::npos && text.find(" lost") != std::string::npos;
    EXPECT_EQ(warned, r.stats.lost_events > 0) << text;
}

INSTANTIATE_TEST_SUITE_P(Cases, RenderProps, testing::ValuesIn(cases()), case_name);

// ---- Specific behaviour ----

TEST(RenderText, EmptyReportSaysSoPlainly) {
    const std::string text = render_text(empty_report());
    EXPECT_NE(text.find("No sockets in CLOSE_WAIT for at least 30s.\n"), std::string::npos);
}

TEST(RenderText, LostEventsLineNamesTheNonZeroCauses) {
    const std::string text = render_text(lost_events_report());
    EXPECT_NE(text.find("WARNING: 17 events lost (ring buffer full: 10"), std::string::npos);
    EXPECT_NE(text.find("stacks not captured: 2"), std::string::npos);
    EXPECT_EQ(text.find("origin map full"), std::string::npos);
    EXPECT_EQ(text.find("decode errors"), std::string::npos);
}

// Stacks lost say why and what raises the limit each hit: dwarf mode's copies (the copy ring
// full while cwtrace was behind), the rest but stale ones the stack map's. JSON keeps the split.
TEST(RenderText, StackLossesNameTheLimitTheyHit) {
    Report r = lost_events_report();
    r.stats.stacks_lost = 1010;
    r.stats.stack_copies_lost = 1000;
    r.stats.stale_stacks = 2;
    std::string text = render_text(r);
    std::replace(text.begin(), text.end(), '\n', ' ');
    text.erase(
        std::unique(text.begin(), text.end(), [](char a, char b) { return a == ' ' && b == ' '; }),
        text.end());
    EXPECT_NE(text.find("1000 stack copies not unwound: the copy ring buffer was full while "
                        "cwtrace was behind (CWTRACE_COPY_RINGBUF_BYTES raises it); those "
                        "sockets show their frame-pointer stack"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("8 stacks not captured: the stack map was full or a hash collided "
                        "(CWTRACE_STACK_MAP_ENTRIES raises it)"),
              std::string::npos)
        << text;
    EXPECT_NE(render_json(r).find("\"stack_copies_lost\":1000"), std::string::npos);
    // Stale stacks alone are the recycling's, said on the names-lost line: no limit to name.
    r.stats.stacks_lost = 2;
    r.stats.stack_copies_lost = 0;
    text = render_text(r);
    EXPECT_EQ(text.find("CWTRACE_STACK_MAP_ENTRIES"), std::string::npos) << text;
    EXPECT_EQ(text.find("CWTRACE_COPY_RINGBUF_BYTES"), std::string::npos) << text;
}

TEST(RenderText, LargestGroupFirstThenSummarized) {
    const std::string text = render_text(big_and_tiny_report());
    const size_t first = text.find(
        "\n#1  120 sockets opened in db::Pool::open_connection() (api-server) by connect(),\n"
        "    oldest 1d00h, median 12h07m\n");
    ASSERT_NE(first, std::string::npos) << text;
    EXPECT_NE(text.find("... and 115 more sockets,"), std::string::npos);
    EXPECT_NE(text.find("and 3 more"), std::string::npos);  // 8 owners, 5 named
    EXPECT_NE(text.find("\n#31 "), std::string::npos);
}

// The headline leads with the user's own frame (report/own_frame): the Python script's line,
// not the interpreter's or libc's; without one, with how the sockets were opened.
TEST(RenderText, HeadlineNamesTheUsersOwnFrame) {
    EXPECT_NE(render_text(python_no_kernel_stack_report())
                  .find("\n#1  4 sockets opened in fetch_page (crawler.py:12) by connect(), "),
              std::string::npos)
        << render_text(python_no_kernel_stack_report());
    Report r = python_no_kernel_stack_report();
    for (SocketEntry& s : r.sockets) {
        Origin o = *s.origin;
        o.own_frame.reset();
        s.origin = o;
    }
    EXPECT_NE(
        render_text(r).find("\n#1  4 sockets, oldest 1m35s, median 52.5s, opened by connect()\n"),
        std::string::npos)
        << render_text(r);
}

TEST(RenderText, MedianAgeNextToTheOldest) {
    // Odd count: the middle socket; even count: halfway between the two middle ones.
    EXPECT_NE(render_text(connect_ipv4_report()).find("oldest 58.3s,\n    median 45.0s\n"),
              std::string::npos);
    EXPECT_NE(
        render_text(python_no_kernel_stack_report()).find("oldest 1m35s,\n    median 52.5s\n"),
        std::string::npos);
    // A median resting on an age that is a lower bound is marked like one, an estimate too.
    Report r = unknown_origin_report();
    r.sockets[1].before_start = true;
    r.sockets[1].pid = 999;  // with the oldest: one holder, one server endpoint, one group
    r.sockets[1].comm = "java";
    EXPECT_NE(render_text(r).find("median >1h01m\n"), std::string::npos) << render_text(r);
    EXPECT_NE(render_text(before_start_report()).find("oldest ~16m12s (est.), median ~9m12s\n"),
              std::string::npos);
}

TEST(RenderText, MostCommonRemotesWithCounts) {
    const std::string big = render_text(big_and_tiny_report());
    EXPECT_NE(big.find("    remotes: 172.16.5.20:5432 (72), 172.16.5.21:5432 (24),\n"
                       "             172.16.5.22:5432 (12), and 1 more\n"),
              std::string::npos)
        << big;
    EXPECT_NE(big.find("    remote: 172.16.9.9:6379\n"), std::string::npos) << big;
    const std::string python = render_text(python_no_kernel_stack_report());
    EXPECT_NE(python.find("    remotes: 127.0.0.1:80 (3), 127.0.0.1:443 (1)\n"), std::string::npos)
        << python;
}

TEST(RenderText, AcceptedSocketsListClientHostsWithoutTheirEphemeralPorts) {
    const std::string text = render_text(accept_ipv6_report());
    EXPECT_NE(text.find("    clients: 2001:db8:ffff:ffff:ffff:ffff:ffff:ffff (1), ::1 (1),\n"),
              std::string::npos)
        << text;
    EXPECT_EQ(text.find("remotes:"), std::string::npos);
}

TEST(RenderText, Ipv6EndpointsInBrackets) {
    const std::string text = render_text(accept_ipv6_report());
    EXPECT_NE(text.find("      [::1]:8080 "), std::string::npos) << text;
    EXPECT_NE(text.find(" -> [::1]:51234 "), std::string::npos) << text;
}

TEST(RenderText, SocketsOfUnknownOriginGroupedByHolderAndEndpointWithDiagnosis) {
    const std::string text = render_text(before_start_report());
    EXPECT_NE(text.find("\n#1  15 sockets held by pid 4242 (python3 /srv/crawler/crawler.py "
                        "--pool 16) to\n    10.0.0.77:8080\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("    why: 12 never read to the end, 3 EOF read but never closed\n"),
              std::string::npos);
    EXPECT_NE(text.find("~16m12s  512 B unread\n"), std::string::npos);
    EXPECT_NE(text.find("#2  2 sockets held by pid 999 (java"), std::string::npos);
    EXPECT_NE(text.find("    from clients of [::ffff:10.0.0.5]:9092\n"), std::string::npos) << text;
    EXPECT_NE(text.find("    clients: ::ffff:10.0.0.80 (1), ::ffff:10.0.0.81 (1)\n"),
              std::string::npos);
    EXPECT_NE(text.find("    in container 3f2a1b4c5d6e as pid 7\n"), std::string::npos);
    EXPECT_NE(text.find("held by no process (still in a listen queue?)"), std::string::npos);
    EXPECT_NE(text.find("leaky_client[4300]  never closed\n"), std::string::npos);
    EXPECT_NE(text.find("--min-age judged them by"), std::string::npos);
    EXPECT_EQ(text.find("> before an age"), std::string::npos) << "every age here is estimated";
}

// Linux gives a client the same ephemeral port towards different servers: a shared local
// endpoint makes a server only when sock_diag could not tell (no `accepted`).
TEST(RenderText, ClientsSharingALocalPortAreGroupedByServerWhenKnownNotAccepted) {
    Report r = base_report(0);
    for (bool known : {true, false}) {
        const uint32_t pid = known ? 100 : 200;
        for (int i = 0; i < 3; ++i) {
            SocketEntry s = sock4("127.0.0.1", 40000, "127.16.0." + std::to_string(i + 1), 45000,
                                  10.0, pid, "crawler", Origin{});
            s.before_start = true;
            if (known) s.accepted = false;
            r.sockets.push_back(s);
        }
    }
    const std::string text = render_text(r);
    for (int i = 1; i <= 3; ++i)
        EXPECT_NE(text.find("1 socket held by pid 100 (crawler) to 127.16.0." + std::to_string(i) +
                            ":45000\n"),
                  std::string::npos)
            << text;
    EXPECT_NE(text.find("3 sockets held by pid 200 (crawler) from clients of 127.0.0.1:40000"),
              std::string::npos)
        << text;
}

TEST(RenderText, UnknownOriginSaidInWords) {
    const std::string text = render_text(unknown_origin_report());
    EXPECT_NE(text.find("opened before tracing started or not yet accepted: stack unknown"),
              std::string::npos);
}

TEST(RenderText, LongNamesShortenedInTheMiddleJsonKeepsThemWhole) {
    const Report r = unusual_names_report();
    const std::string text = render_text(r);
    EXPECT_NE(text.find("      std::_Function_handler<v…(std::_Any_data const&) (/opt/My App/"),
              std::string::npos)
        << text;
    EXPECT_NE(render_json(r).find("_M_invoke(std::_Any_data const&)"), std::string::npos);
    const auto j = nlohmann::json::parse(render_json(r));
    EXPECT_EQ(j["sockets"][0]["origin"]["user_stack"][5]["function"], long_template_name());
}

TEST(RenderText, ControlCharactersEscaped) {
    const std::string text = render_text(unusual_names_report());
    EXPECT_NE(text.find("evil\\x1b[2J\\x09name\\x0a"), std::string::npos) << text;
    EXPECT_NE(text.find("bad\\xff\\xfe utf8"), std::string::npos) << text;
}

TEST(RenderText, HugeValuesStillFit80Columns) {
    Report r = accept_ipv6_report();
    const uint64_t big = std::numeric_limits<uint64_t>::max();
    r.min_age_seconds = 1e15;
    r.tracing_seconds = std::numeric_limits<double>::infinity();
    r.stats = {big, big, big, big, big, big, big, big, big, big, {{"slow", big}}, big, big};
    for (auto& s : r.sockets) {
        s.comm = std::string(40, 'c');
        s.pid = std::numeric_limits<uint32_t>::max();
        s.close_wait_seconds = 1e18;
    }
    expect_fits_80_columns(render_text(r));
}

TEST(RenderText, AgesAreHuman) {
    Report r = lost_events_report();
    const std::pair<double, const char*> cases[] = {
        {0.04, "0.0s"},    {42.1, "42.1s"}, {42.0, "42.0s"},  {59.96, "1m00s"}, {192.4, "3m12s"},
        {3599.6, "1h00m"}, {3900, "1h05m"}, {90061, "1d01h"}, {-5, "0.0s"}};
    for (const auto& [age, want] : cases) {
        r.sockets[0].close_wait_seconds = age;
        EXPECT_NE(render_text(r).find(std::string("oldest ") + want + ","), std::string::npos)
            << age << " -> " << want;
    }
}

TEST(RenderJson, SecondsRoundedToMilliseconds) {
    Report r = lost_events_report();
    r.tracing_seconds = 61.23456;
    r.sockets[0].close_wait_seconds = 33.33349;
    const std::string out = render_json(r);
    EXPECT_NE(out.find("\"tracing_seconds\":61.235,"), std::string::npos) << out;
    EXPECT_NE(out.find("\"close_wait_seconds\":33.333,"), std::string::npos) << out;
    EXPECT_NE(out.find("\"min_age_seconds\":30.0,"), std::string::npos) << out;
}

TEST(RenderJson, KeysInContractOrder) {
    const std::string out = render_json(connect_ipv4_report());
    const char* keys[] = {"\"schema\"",
                          "\"min_age_seconds\"",
                          "\"tracing_seconds\"",
                          "\"sockets\"",
                          "\"pid\"",
                          "\"comm\"",
                          "\"family\"",
                          "\"local\"",
                          "\"remote\"",
                          "\"close_wait_seconds\"",
                          "\"before_start\"",
                          "\"origin\"",
                          "\"kind\"",
                          "\"tid\"",
                          "\"user_stack\"",
                          "\"kernel_stack\"",
                          "\"stats\"",
                          "\"events\"",
                          "\"lost_events\""};
    size_t at = 0;
    for (const char* k : keys) {
        const size_t next = out.find(k, at);
        ASSERT_NE(next, std::string::npos) << k << " missing or out of order";
        at = next;
    }
}

TEST(RenderJson, OriginKindNames) {
    EXPECT_STREQ(to_string(OriginKind::Unknown), "unknown");
    EXPECT_STREQ(to_string(OriginKind::Connect), "connect");
    EXPECT_STREQ(to_string(OriginKind::Accept), "accept");
}

// The per-socket JSON writes its numbers itself: the same text as the library, for the values a
// report holds (ages rounded to the millisecond, microseconds, whole numbers) and beyond them.
TEST(RenderJson, DoublesAreWrittenAsTheLibraryWritesThem) {
    std::vector<double> values = {
        0.0,  -0.0, 0.001, 0.0005,     1.0,   2.5,   1e7,    1e14,
        1e15, 1e16, 1e-4,  123456.789, -3.25, 1e300, 5e-324, std::numeric_limits<double>::max()};
    uint64_t x = 88172645463325252ULL;  // xorshift: the same values every run
    auto next = [&] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return x;
    };
    for (int i = 0; i < 200000; ++i) {
        const double scale = std::pow(10.0, static_cast<double>(next() % 12) - 3);
        const double raw = static_cast<double>(next() % 1000000) / 1000.0 * scale;
        values.push_back(std::round(raw * 1000) / 1000);  // as seconds() rounds
        values.push_back(std::round(raw * 1e6) / 1e6);    // as micros() rounds
        values.push_back(raw);
    }
    size_t mismatches = 0;
    for (double d : values) {
        std::string fast;
        cwtrace::append_json_double(fast, d);
        const std::string library = nlohmann::json(d).dump();
        if (fast != library && mismatches++ < 5) ADD_FAILURE() << fast << " != " << library;
    }
    EXPECT_EQ(mismatches, 0u);
}

// A node process's connect() run from its tick queue (net.connect deferred it): the text says so
// under the path, once; JSON marks that origin, and no other, with "event_loop": true.
TEST(RenderEventLoop, NodePathFromTheTickQueueIsSaidSoInTextAndJson) {
    const std::string node = "/usr/bin/node";
    const Origin tick = connect_origin(
        77, "node",
        {uf("connect", kLibc), uf("uv__tcp_connect", node),
         uf("Builtins_InterpreterEntryTrampoline", node), uf("Builtins_JSEntry", node),
         uf("node::InternalCallbackScope::Close()", node), uf("node::Start(int, char**)", node)});
    Report r = connect_ipv4_report();
    r.sockets.push_back(sock4("127.0.0.1", 43300, "127.0.0.1", 9000, 20.0, 77, "node", tick));
    const std::string text = render_text(r);
    // Wrapped at 80 columns, as every line is.
    const std::string line =
        "    opened from the event loop: the caller had returned (net.connect defers\n"
        "      connect())\n";
    EXPECT_EQ(text.find(line), text.rfind(line)) << text;
    EXPECT_NE(text.find(line), std::string::npos) << text;
    const auto j = nlohmann::json::parse(render_json(r));
    size_t marked = 0;
    for (const auto& s : j.at("sockets")) {
        const bool node_socket = s.at("comm") == "node";
        EXPECT_EQ(s.at("origin").contains("event_loop"), node_socket) << s.dump();
        if (node_socket && s.at("origin").value("event_loop", false)) ++marked;
    }
    EXPECT_EQ(marked, 1u);
}

}  // namespace
}  // namespace cwtrace
