// Renderer tests: fixed reports compared byte for byte with tests/golden/<case>.{txt,json},
// plus properties checked directly (JSON parses back, lines fit 80 columns, losses are shown).
// A missing or different golden fails; CWTRACE_BLESS=1 (scripts/bless-goldens) rewrites them.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cwtrace/render.h"
#include "cwtrace/report.h"

#ifndef CWTRACE_GOLDEN_DIR
#error "CWTRACE_GOLDEN_DIR must name the tests/golden directory"
#endif

namespace cwtrace {
namespace {

// ---- Building reports ----

const char* const kLibc = "/usr/lib/x86_64-linux-gnu/libc.so.6";

Frame uf(std::string function, std::string module) {
    return {std::move(function), std::move(module)};
}
Frame kf(std::string function) { return {std::move(function), ""}; }

std::vector<Frame> connect_kernel_stack() {
    return {kf("tcp_v4_connect"),
            kf("__inet_stream_connect"),
            kf("inet_stream_connect"),
            kf("__sys_connect"),
            kf("__x64_sys_connect"),
            kf("do_syscall_64"),
            kf("entry_SYSCALL_64_after_hwframe")};
}

Origin connect_origin(uint32_t pid, std::string comm, std::vector<Frame> user) {
    Origin o;
    o.kind = OriginKind::Connect;
    o.pid = pid;
    o.tid = pid + 1;
    o.comm = std::move(comm);
    o.user_stack = std::move(user);
    o.kernel_stack = connect_kernel_stack();
    return o;
}

SocketEntry sock4(std::string local, uint16_t lport, std::string remote, uint16_t rport, double age,
                  std::optional<uint32_t> pid, std::optional<std::string> comm, Origin origin) {
    SocketEntry s;
    s.pid = pid;
    s.comm = std::move(comm);
    s.local = {std::move(local), lport};
    s.remote = {std::move(remote), rport};
    s.close_wait_seconds = age;
    s.origin = std::move(origin);
    return s;
}

SocketEntry sock6(std::string local, uint16_t lport, std::string remote, uint16_t rport, double age,
                  std::optional<uint32_t> pid, std::optional<std::string> comm, Origin origin) {
    SocketEntry s = sock4(std::move(local), lport, std::move(remote), rport, age, pid,
                          std::move(comm), std::move(origin));
    s.inet6 = true;
    return s;
}

Report base_report(uint64_t events) {
    Report r;
    r.min_age_seconds = 30;
    r.tracing_seconds = 61.2;
    r.stats.events = events;
    return r;
}

Report empty_report() {
    Report r = base_report(57);
    r.tracing_seconds = 12.5;
    return r;
}

Report connect_ipv4_report() {
    const std::string bin = "/opt/leaky/bin/leaky_client";
    const Origin o =
        connect_origin(4242, "python3",
                       {uf("connect", kLibc), uf("open_leaky", bin), uf("handle_request", bin),
                        uf("main", bin), uf("__libc_start_call_main", kLibc)});
    Report r = base_report(1234);
    r.sockets = {sock4("127.0.0.1", 43210, "127.0.0.1", 8080, 58.34, 4242, "python3", o),
                 sock4("10.1.2.3", 43212, "10.1.9.200", 8080, 45.0, 4242, "python3", o),
                 sock4("10.1.2.3", 51000, "192.168.100.200", 5432, 31.25, 4250, "worker", o)};
    return r;
}

Report accept_ipv6_report() {
    const std::string nginx = "/usr/sbin/nginx";
    Origin o;
    o.kind = OriginKind::Accept;
    o.pid = 812;
    o.tid = 812;
    o.comm = "nginx";
    o.user_stack = {
        uf("accept4", kLibc), uf("ngx_event_accept", nginx), uf("ngx_epoll_process_events", nginx),
        uf("ngx_process_events_and_timers", nginx), uf("ngx_worker_process_cycle", nginx)};
    o.kernel_stack = {kf("inet_csk_accept"),
                      kf("inet_accept"),
                      kf("do_accept"),
                      kf("__sys_accept4"),
                      kf("__x64_sys_accept4"),
                      kf("do_syscall_64"),
                      kf("entry_SYSCALL_64_after_hwframe")};
    Report r = base_report(98765);
    r.tracing_seconds = 7322.9;
    r.sockets = {
        sock6("2001:db8:85a3:1:211:22ff:fe33:4455", 443, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
              65535, 3725.4, 812, "nginx", o),
        sock6("::ffff:192.0.2.10", 8443, "::ffff:198.51.100.7", 39022, 192.4, 812, "nginx", o),
        sock6("::1", 8080, "::1", 51234, 42.1, 813, "nginx", o)};
    return r;
}

Report unknown_origin_report() {
    Report r = base_report(310);
    r.tracing_seconds = 95;
    const Origin unknown;  // kind Unknown, no pid/tid/comm, no stacks
    SocketEntry old = sock4("10.0.0.5", 9092, "10.0.0.77", 40112, 7300.0, 999, "java", unknown);
    old.before_start = true;
    SocketEntry orphan =
        sock4("10.0.0.5", 9092, "10.0.0.78", 40990, 65.0, std::nullopt, std::nullopt, unknown);
    SocketEntry half = sock4("10.0.0.5", 9093, "10.0.0.79", 41000, 59.96, std::nullopt,
                             std::string("java"), unknown);
    r.sockets = {old, orphan, half};
    return r;
}

std::string long_template_name() {
    return "std::_Function_handler<void (std::shared_ptr<boost::asio::basic_stream_socket<"
           "boost::asio::ip::tcp, boost::asio::any_io_executor> >, boost::system::error_code "
           "const&), std::_Bind<void (app::net::ConnectionPool<app::net::TlsTransport<std::"
           "allocator<char> >, app::net::DefaultRetryPolicy>::*(app::net::ConnectionPool<app::"
           "net::TlsTransport<std::allocator<char> >, app::net::DefaultRetryPolicy>*, std::"
           "_Placeholder<1>, std::_Placeholder<2>))(std::shared_ptr<boost::asio::basic_stream_"
           "socket<boost::asio::ip::tcp, boost::asio::any_io_executor> >, boost::system::"
           "error_code const&)> >::_M_invoke(std::_Any_data const&)";
}

Report unusual_names_report() {
    const std::string app = "/opt/My App/bin/sérvice";
    Origin o = connect_origin(
        77, "weird\"comm\\",
        {uf("connect", kLibc), uf("operator\"\"_conn(char const*, unsigned long)", app),
         uf("path\\with\\backslashes", app), uf("cmp<a&b>(x<y, z>w)", app),
         uf("naïve_函数_🚀_connect", app), uf(long_template_name(), app),
         uf("evil\x1b[2J\tname\n", app), uf("bad\xff\xfe utf8", app),
         uf("[unknown]",
            "/very/long/path/to/a/deeply/nested/build/output/directory/for/"
            "some/project/bazel-out/k8-opt/bin/services/frontend/server"),
         uf("no_module_frame", "")});
    o.kernel_stack.insert(o.kernel_stack.begin(),
                          kf("__a_very_long_kernel_symbol_name_that_goes_on_and_on_for_quite_a_"
                             "while_really_longer_than_eighty_columns"));
    Report r = base_report(42);
    r.sockets = {sock4("127.0.0.1", 40000, "127.0.0.1", 9000, 125.0, 77, "weird\"comm\\", o),
                 sock4("127.0.0.1", 40001, "127.0.0.1", 9000, 90.5, 78, "日本語プロセス", o),
                 sock4("127.0.0.1", 40002, "127.0.0.1", 9000, 88.0, 79, "tab\there\x7f", o)};
    return r;
}

// One connect path leaking 120 sockets across 8 processes, plus 30 paths with 1-2 sockets each
// (some tied in size and age, so the stack decides their order).
Report big_and_tiny_report() {
    const std::string bin = "/usr/local/bin/api-server";
    const Origin big = connect_origin(
        2000, "api-server",
        {uf("connect", kLibc), uf("db::Pool::open_connection()", bin),
         uf("db::Pool::acquire()", bin), uf("api::Handler::serve(api::Request const&)", bin),
         uf("start_thread", kLibc), uf("__clone3", kLibc)});
    Report r = base_report(250000);
    r.min_age_seconds = 60;
    r.tracing_seconds = 86400 + 3 * 3600 + 120;
    for (int i = 0; i < 120; ++i) {
        const uint32_t pid = 2000 + static_cast<uint32_t>(i % 8);
        r.sockets.push_back(sock4("172.16.0.10", static_cast<uint16_t>(30000 + i), "172.16.5.20",
                                  5432, 60.5 + (120 - i) * 720.0, pid, "api-server", big));
    }
    for (int g = 0; g < 30; ++g) {
        char name[32];
        std::snprintf(name, sizeof name, "handler_%02d", 29 - g);
        const Origin o = connect_origin(3000, "worker", {uf("connect", kLibc), uf(name, bin)});
        const double age = 61.0 + (g % 3) * 10.0;
        for (int k = 0; k <= g % 2; ++k)
            r.sockets.push_back(sock4("172.16.0.11", static_cast<uint16_t>(20000 + 2 * g + k),
                                      "172.16.9.9", 6379, age - k, 3000 + static_cast<uint32_t>(g),
                                      "worker", o));
    }
    return r;
}

Report lost_events_report() {
    Origin o = connect_origin(5150, "curl", {});  // its user stack was not captured
    Report r = base_report(5000);
    r.stats.lost_events = 17;
    r.stats.ringbuf_full = 10;
    r.stats.stacks_lost = 2;
    r.stats.accept_unresolved = 5;
    r.sockets = {sock4("192.0.2.1", 55555, "203.0.113.9", 443, 33.3, 5150, "curl", o)};
    return r;
}

// ---- Golden files ----

std::string golden_path(const std::string& file) {
    return std::string(CWTRACE_GOLDEN_DIR) + "/" + file;
}

bool blessing() {
    const char* v = std::getenv("CWTRACE_BLESS");
    return v && std::string(v) == "1";
}

void expect_golden(const std::string& file, const std::string& actual) {
    const std::string path = golden_path(file);
    if (blessing()) {
        std::ofstream(path, std::ios::binary) << actual;
        return;
    }
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in) << "missing golden " << path << "; run scripts/bless-goldens to create it";
    std::stringstream expected;
    expected << in.rdbuf();
    EXPECT_EQ(expected.str(), actual) << "output differs from " << path
                                      << "; if the change is intended, run scripts/bless-goldens";
}

struct Case {
    const char* name;
    Report (*make)();
};

const Case kCases[] = {
    {"empty", empty_report},
    {"connect_ipv4", connect_ipv4_report},
    {"accept_ipv6", accept_ipv6_report},
    {"unknown_origin", unknown_origin_report},
    {"unusual_names", unusual_names_report},
    {"big_and_tiny", big_and_tiny_report},
    {"lost_events", lost_events_report},
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::string case_name(const testing::TestParamInfo<Case>& info) { return info.param.name; }

class RenderGolden : public testing::TestWithParam<Case> {};

TEST_P(RenderGolden, Text) {
    expect_golden(std::string(GetParam().name) + ".txt", render_text(GetParam().make()));
}

TEST_P(RenderGolden, Json) {
    expect_golden(std::string(GetParam().name) + ".json", render_json(GetParam().make()));
}

INSTANTIATE_TEST_SUITE_P(Cases, RenderGolden, testing::ValuesIn(kCases), case_name);

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
        EXPECT_EQ(js.at("origin").at("kind"), to_string(s.origin.kind));
        EXPECT_EQ(js.at("origin").at("user_stack").size(), s.origin.user_stack.size());
        EXPECT_EQ(js.at("origin").at("kernel_stack").size(), s.origin.kernel_stack.size());
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

INSTANTIATE_TEST_SUITE_P(Cases, RenderProps, testing::ValuesIn(kCases), case_name);

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

TEST(RenderText, LargestGroupFirstThenSummarized) {
    const std::string text = render_text(big_and_tiny_report());
    const size_t first = text.find("\n#1  120 sockets, oldest 1d00h, opened by connect()");
    ASSERT_NE(first, std::string::npos) << text;
    EXPECT_NE(text.find("... and 115 more sockets,"), std::string::npos);
    EXPECT_NE(text.find("and 3 more"), std::string::npos);  // 8 owners, 5 named
    EXPECT_NE(text.find("\n#31 "), std::string::npos);
}

TEST(RenderText, Ipv6EndpointsInBrackets) {
    const std::string text = render_text(accept_ipv6_report());
    EXPECT_NE(text.find("      [::1]:8080 "), std::string::npos) << text;
    EXPECT_NE(text.find(" -> [::1]:51234 "), std::string::npos) << text;
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
    r.stats = {big, big, big, big, big, big, big, big};
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

}  // namespace
}  // namespace cwtrace
