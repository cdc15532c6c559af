// The JSON report reader behind `cwtrace render`: saved reports read back whole, and malformed
// input rejected with one line naming the problem (never a crash: this runs under ASan/UBSan).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "render/render.h"
#include "report/report_reader.h"
#include "report_fixtures.h"

namespace cwtrace {
namespace {

using namespace fixtures;
using Json = nlohmann::json;

class ReadBack : public testing::TestWithParam<Case> {};

TEST_P(ReadBack, EveryReportReadsBackToTheSameRendering) {
    const Report r = GetParam().make();
    auto saved = read_report(render_json(r, {"db-7"}));
    ASSERT_TRUE(saved) << saved.error().message;
    EXPECT_EQ(render_json(saved->report, saved->context), render_json(r, {"db-7"}));
    EXPECT_EQ(saved->context.host, "db-7");
    // JSON cannot carry invalid UTF-8 (render_json writes U+FFFD for it), so a report with such
    // names draws differently once saved; every other report draws the same.
    if (std::string(GetParam().name) == "unusual_names") return;
    for (Format f : {Format::Text, Format::Folded, Format::Svg, Format::Speedscope, Format::Pprof})
        EXPECT_EQ(render(saved->report, f, {"db-7"}), render(r, f, {"db-7"})) << to_string(f);
}

INSTANTIATE_TEST_SUITE_P(Cases, ReadBack, testing::ValuesIn(cases()), case_name);

TEST(ReadReport, ValuesComeBackFieldByField) {
    auto saved = read_report(render_json(unknown_origin_report()));
    ASSERT_TRUE(saved) << saved.error().message;
    const Report& r = saved->report;
    EXPECT_EQ(saved->context.host, "");
    EXPECT_DOUBLE_EQ(r.min_age_seconds, 30);
    EXPECT_DOUBLE_EQ(r.tracing_seconds, 95);
    ASSERT_EQ(r.sockets.size(), 3u);
    EXPECT_EQ(r.sockets[0].pid, 999u);
    EXPECT_TRUE(r.sockets[0].before_start);
    EXPECT_FALSE(r.sockets[1].pid.has_value());
    EXPECT_FALSE(r.sockets[1].comm.has_value());
    EXPECT_EQ(r.sockets[2].remote.addr(), "10.0.0.79");
    EXPECT_EQ(r.sockets[2].remote.port, 41000);
    EXPECT_EQ(r.sockets[2].origin->kind, OriginKind::Unknown);
    EXPECT_EQ(r.stats.events, 310u);
}

TEST(ReadReport, FrameAddressesComeBack) {
    const Report original = accept_ipv6_report();
    auto saved = read_report(render_json(original));
    ASSERT_TRUE(saved) << saved.error().message;
    const auto& read = saved->report.sockets.at(0).origin->user_stack;
    const auto& written = original.sockets.at(0).origin->user_stack;
    ASSERT_EQ(read.size(), written.size());
    for (size_t i = 0; i < read.size(); ++i) {
        ASSERT_TRUE(written[i].address.has_value());  // the fixture places every frame
        EXPECT_EQ(read[i].address, written[i].address) << i;
        EXPECT_EQ(read[i].file_offset, written[i].file_offset) << i;
        EXPECT_EQ(read[i].build_id, written[i].build_id) << i;
    }
}

TEST(ReadReport, AddressesAreHexWithTheirPrefix) {
    EXPECT_EQ(format_address(0), "0x0");
    EXPECT_EQ(format_address(0xffffffffffffffffULL), "0xffffffffffffffff");
    EXPECT_EQ(parse_address("0xffffffffffffffff"), 0xffffffffffffffffULL);
    EXPECT_EQ(parse_address("0x7F3a"), 0x7f3aULL);
    for (const char* bad : {"", "0x", "7f3a", "0x-1", "0x 1", "0x1g", "0x00000000000000001"})
        EXPECT_EQ(parse_address(bad), std::nullopt) << bad;
}

TEST(ReadReport, SockDiagAndOwnerDetailsComeBack) {
    const Report original = before_start_report();
    auto saved = read_report(render_json(original));
    ASSERT_TRUE(saved) << saved.error().message;
    const auto& sockets = saved->report.sockets;
    ASSERT_EQ(sockets.size(), original.sockets.size());
    const SocketEntry& java = sockets[0];  // the oldest: a server's in a container
    ASSERT_TRUE(java.owner);
    EXPECT_EQ(java.owner->cmdline, original.sockets[0].owner->cmdline);
    EXPECT_EQ(java.owner->pid_in_namespace, 7u);
    EXPECT_EQ(java.owner->cgroup, original.sockets[0].owner->cgroup);
    EXPECT_EQ(java.owner->container_id, original.sockets[0].owner->container_id);
    EXPECT_DOUBLE_EQ(*java.age_estimate_seconds, 7300);
    EXPECT_EQ(java.recv_q, 1u);
    EXPECT_EQ(java.send_q, 0u);
    EXPECT_EQ(java.diagnosis, Diagnosis::EofNotRead);
    for (size_t i = 0; i < sockets.size(); ++i) {
        EXPECT_EQ(sockets[i].diagnosis, original.sockets[i].diagnosis) << i;
        EXPECT_EQ(sockets[i].recv_q, original.sockets[i].recv_q) << i;
        EXPECT_EQ(sockets[i].owner != nullptr, original.sockets[i].owner != nullptr) << i;
        EXPECT_EQ(sockets[i].accepted, original.sockets[i].accepted) << i;
        EXPECT_EQ(sockets[i].age_estimate_seconds.has_value(),
                  original.sockets[i].age_estimate_seconds.has_value())
            << i;
    }
    EXPECT_EQ(render_text(saved->report), render_text(original));
}

// A pod's owner: the Kubernetes names are written, read back, and named on the text's owner line.
TEST(ReadReport, KubernetesNamesComeBack) {
    Report original = before_start_report();
    auto pod = std::make_shared<OwnerDetails>(*original.sockets[0].owner);
    pod->pod = "kafka-proxy-0";
    pod->namespace_name = "streaming";
    pod->container = "proxy";
    pod->pod_uid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    for (auto& s : original.sockets)
        if (s.owner == original.sockets[0].owner) s.owner = pod;
    const std::string json = render_json(original);
    const Json owner = Json::parse(json)["sockets"][0]["owner"];
    EXPECT_EQ(owner["pod"], "kafka-proxy-0");
    EXPECT_EQ(owner["namespace"], "streaming");
    EXPECT_EQ(owner["container"], "proxy");
    EXPECT_EQ(owner["pod_uid"], "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
    auto saved = read_report(json);
    ASSERT_TRUE(saved) << saved.error().message;
    const OwnerDetails& back = *saved->report.sockets[0].owner;
    EXPECT_EQ(back.pod, pod->pod);
    EXPECT_EQ(back.namespace_name, pod->namespace_name);
    EXPECT_EQ(back.container, pod->container);
    EXPECT_EQ(back.pod_uid, pod->pod_uid);
    const std::string text = render_text(saved->report);
    EXPECT_EQ(text, render_text(original));
    EXPECT_NE(text.find("in pod streaming/kafka-proxy-0 (container proxy) as pid 7"),
              std::string::npos)
        << text;
    // Outside a pod the four are null, and a report without them (older) reads.
    const Json plain = Json::parse(render_json(before_start_report()))["sockets"][0]["owner"];
    for (const char* key : {"pod", "namespace", "container", "pod_uid"})
        EXPECT_TRUE(plain.at(key).is_null()) << key;
    Json older = Json::parse(render_json(before_start_report()));
    for (auto& s : older["sockets"])
        if (s.contains("owner") && s["owner"].is_object())
            for (const char* key : {"pod", "namespace", "container", "pod_uid"})
                s["owner"].erase(key);
    auto read_older = read_report(older.dump());
    ASSERT_TRUE(read_older) << read_older.error().message;
    EXPECT_EQ(read_older->report.sockets[0].owner->pod, std::nullopt);
}

TEST(ReadReport, ReportsWithoutTheSockDiagFieldsStillRead) {
    Json j = Json::parse(render_json(before_start_report()));
    for (auto& s : j["sockets"])
        for (const char* key : {"age_estimate_seconds", "recv_q", "send_q", "diagnosis", "owner"})
            s.erase(key);
    auto saved = read_report(j.dump());
    ASSERT_TRUE(saved) << saved.error().message;
    EXPECT_EQ(saved->report.sockets[0].diagnosis, Diagnosis::Unknown);
    EXPECT_FALSE(saved->report.sockets[0].owner);
    EXPECT_FALSE(saved->report.sockets[0].age_estimate_seconds);
}

TEST(ReadReport, LossesByCauseAreKept) {
    auto saved = read_report(render_json(lost_events_report()));
    ASSERT_TRUE(saved);
    EXPECT_EQ(saved->report.stats.lost_events, 17u);
    EXPECT_EQ(saved->report.stats.ringbuf_full, 10u);
    EXPECT_EQ(saved->report.stats.accept_unresolved, 5u);
}

TEST(ReadReport, JsonLinesGiveTheLastReport) {
    Report first = connect_ipv4_report(), last = connect_ipv4_report();
    first.tracing_seconds = 10;
    last.tracing_seconds = 20;
    last.sockets.pop_back();
    auto saved = read_report(render_json(first) + "\n" + render_json(last));
    ASSERT_TRUE(saved) << saved.error().message;
    EXPECT_DOUBLE_EQ(saved->report.tracing_seconds, 20);
    EXPECT_EQ(saved->report.sockets.size(), 2u);
}

TEST(ReadReport, PrettyPrintedAndUnknownFieldsAreFine) {
    Json j = Json::parse(render_json(connect_ipv4_report()));
    j["added_in_a_later_version"] = {{"anything", {1, 2, 3}}};
    j["sockets"][0]["origin"]["user_stack"][0]["offset"] = 12;
    auto saved = read_report(j.dump(2));
    ASSERT_TRUE(saved) << saved.error().message;
    EXPECT_EQ(saved->report.sockets.size(), 3u);
}

TEST(ReadReport, ContractWithoutTheLossBreakdownReads) {
    Json j = Json::parse(render_json(connect_ipv4_report()));
    j["stats"].erase("lost");
    EXPECT_TRUE(read_report(j.dump()));
}

TEST(ReadReport, ControlCharactersInStringsAreKeptAndRenderedSafely) {
    Json j = Json::parse(render_json(connect_ipv4_report()));
    j["sockets"][0]["comm"] = std::string("nul\0bell\a", 9);
    auto saved = read_report(j.dump());
    ASSERT_TRUE(saved);
    EXPECT_EQ(*saved->report.sockets[0].comm, std::string("nul\0bell\a", 9));
    EXPECT_NE(render_text(saved->report).find("nul\\x00bell\\x07"), std::string::npos);
}

// A valid report with one thing changed, and the words the error must contain.
struct Bad {
    const char* what;
    std::string input;
    std::string error;
};

std::string valid() { return render_json(connect_ipv4_report()); }

std::string with(const char* pointer, Json value) {
    Json j = Json::parse(valid());
    j[Json::json_pointer(pointer)] = std::move(value);
    return j.dump();
}

std::string without(const char* parent, const char* key) {
    Json j = Json::parse(valid());
    j[Json::json_pointer(parent)].erase(key);
    return j.dump();
}

std::vector<Bad> bad_inputs() {
    Json long_stack = Json::array();
    for (int i = 0; i < 1025; ++i) long_stack.push_back({{"function", "f"}});
    return {
        {"empty", "", "not valid JSON"},
        {"truncated", valid().substr(0, 100), "not valid JSON"},
        {"not JSON", "hello", "not valid JSON"},
        {"invalid UTF-8", "{\"schema\": \"\xff\"}", "not valid JSON"},
        {"huge exponent", "{\"schema\":\"cwtrace.report/1\",\"min_age_seconds\":1e999}",
         "not valid JSON"},
        {"array", "[]", "expected an object"},
        {"other schema", with("/schema", "cwtrace.report/2"), "schema: unsupported schema"},
        {"schema a number", with("/schema", 1), "schema: expected a string"},
        {"no schema", without("", "schema"), "schema: missing"},
        {"no sockets", without("", "sockets"), "sockets: missing"},
        {"sockets an object", with("/sockets", Json::object()), "sockets: expected an array"},
        {"socket a string", with("/sockets/1", "x"), "sockets[1]: expected an object"},
        {"negative pid", with("/sockets/0/pid", -1), "sockets[0].pid: expected an integer"},
        {"fractional pid", with("/sockets/0/pid", 1.5), "sockets[0].pid: expected an integer"},
        {"pid over 32 bits", with("/sockets/0/pid", 4294967296ULL), "sockets[0].pid"},
        {"pid a string", with("/sockets/0/pid", "12"), "sockets[0].pid"},
        {"comm a number", with("/sockets/2/comm", 5), "sockets[2].comm: expected a string"},
        {"port over 65535", with("/sockets/0/local/port", 65536),
         "sockets[0].local.port: expected an integer from 0 to 65535"},
        {"no remote address", without("/sockets/0/remote", "addr"),
         "sockets[0].remote.addr: missing"},
        {"host name for an address", with("/sockets/0/local/addr", "localhost"),
         "sockets[0].local.addr: expected an IPv4 or IPv6 address"},
        {"other family", with("/sockets/0/family", "unix"), "sockets[0].family: expected"},
        {"negative age", with("/sockets/0/close_wait_seconds", -1),
         "sockets[0].close_wait_seconds: expected a number of seconds >= 0"},
        {"age a string", with("/sockets/0/close_wait_seconds", "5s"),
         "sockets[0].close_wait_seconds"},
        {"before_start a number", with("/sockets/0/before_start", 0),
         "sockets[0].before_start: expected true or false"},
        {"other origin kind", with("/sockets/0/origin/kind", "bind"),
         "sockets[0].origin.kind: expected \"connect\", \"accept\" or \"unknown\""},
        {"frame without module", without("/sockets/0/origin/user_stack/2", "module"),
         "sockets[0].origin.user_stack[2].module: missing"},
        {"function a number", with("/sockets/0/origin/kernel_stack/0/function", 7),
         "sockets[0].origin.kernel_stack[0].function: expected a string"},
        {"stack an object", with("/sockets/0/origin/user_stack", Json::object()),
         "sockets[0].origin.user_stack: expected an array"},
        {"stack too deep", with("/sockets/0/origin/kernel_stack", long_stack),
         "sockets[0].origin.kernel_stack: more than 1024 entries"},
        {"negative events", with("/stats/events", -5), "stats.events: expected an integer"},
        {"loss a string", with("/stats/lost/ringbuf_full", "3"), "stats.lost.ringbuf_full"},
        {"host a number", with("/host", 3), "host: expected a string"},
        {"min-age missing", without("", "min_age_seconds"), "min_age_seconds: missing"},
        {"other diagnosis", with("/sockets/0/diagnosis", "leaked"),
         "sockets[0].diagnosis: expected \"unread_data\""},
        {"negative age estimate", with("/sockets/1/age_estimate_seconds", -2),
         "sockets[1].age_estimate_seconds: expected a number of seconds >= 0"},
        {"recv_q a string", with("/sockets/0/recv_q", "1"),
         "sockets[0].recv_q: expected an integer"},
        {"owner without cmdline", with("/sockets/0/owner", Json::object()),
         "sockets[0].owner.cmdline: missing"},
        {"address without 0x", with("/sockets/0/origin/user_stack/1/address", "7f00"),
         "sockets[0].origin.user_stack[1].address: expected \"0x\" and 1 to 16 hex digits"},
        {"address over 64 bits",
         with("/sockets/0/origin/user_stack/1/address", "0x10000000000000000"),
         "sockets[0].origin.user_stack[1].address"},
        {"file offset a number", with("/sockets/0/origin/user_stack/1/file_offset", 4096),
         "sockets[0].origin.user_stack[1].file_offset: expected a string"},
        {"build id with a slash", with("/sockets/0/origin/user_stack/1/build_id", "../ab"),
         "sockets[0].origin.user_stack[1].build_id: expected a build id in lower-case hex"},
        {"JSON Lines with a broken line", valid() + "{\"schema\":\n", "not valid JSON"},
    };
}

TEST(ReadReport, MalformedInputIsOneLineNamingTheProblem) {
    for (const auto& bad : bad_inputs()) {
        auto saved = read_report(bad.input);
        ASSERT_FALSE(saved) << bad.what << " was accepted";
        const std::string& message = saved.error().message;
        EXPECT_NE(message.find(bad.error), std::string::npos) << bad.what << ": " << message;
        EXPECT_EQ(message.find('\n'), std::string::npos) << bad.what << ": " << message;
    }
}

TEST(ReadReport, NumbersBeyond64BitsAreRejected) {
    std::string text = valid();
    const std::string events = "\"events\":1234";
    text.replace(text.find(events), events.size(), "\"events\":184467440737095516160");
    auto saved = read_report(text);
    ASSERT_FALSE(saved);
    EXPECT_NE(saved.error().message.find("stats.events"), std::string::npos)
        << saved.error().message;
}

TEST(ReadReport, DeepNestingIsAnErrorNotACrash) {
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    auto saved = read_report(deep);
    ASSERT_FALSE(saved);
    EXPECT_NE(saved.error().message.find("expected an object"), std::string::npos);
    auto unbalanced = read_report(std::string(100000, '{'));
    EXPECT_FALSE(unbalanced);
}

// The deepest stacks the reader accepts draw in every format (the SVG lays out its frames
// recursively: this is its deepest tree).
TEST(ReadReport, DeepestAcceptedStacksRenderInEveryFormat) {
    Json j = Json::parse(valid());
    Json user = Json::array(), kernel = Json::array();
    for (int i = 0; i < 1024; ++i) {
        user.push_back({{"function", "u" + std::to_string(i)}, {"module", "/bin/x"}});
        kernel.push_back({{"function", "k" + std::to_string(i)}});
    }
    j["sockets"][0]["origin"]["user_stack"] = user;
    j["sockets"][0]["origin"]["kernel_stack"] = kernel;
    auto saved = read_report(j.dump());
    ASSERT_TRUE(saved) << saved.error().message;
    for (Format f : {Format::Text, Format::Json, Format::Folded, Format::Svg, Format::Speedscope,
                     Format::Pprof})
        EXPECT_FALSE(render(saved->report, f, saved->context).empty()) << to_string(f);
    EXPECT_NE(render_folded(saved->report).find(";u1023;u1022;"), std::string::npos);
}

// Damaged files (bytes flipped, dropped, duplicated; fixed seed, so the same every run): each
// is read or rejected in one line, and what is read draws in every format, under ASan/UBSan.
TEST(ReadReport, DamagedReportsAreReadOrRejectedNeverACrash) {
    const std::string original = render_json(unusual_names_report(), {"h"});
    std::mt19937 rng(20240405);
    const char alphabet[] = "{}[]\":,0123456789-.eE truefalsn\\u\xff";
    size_t accepted = 0;
    for (int i = 0; i < 400; ++i) {
        std::string text = original;
        for (int edits = 1 + static_cast<int>(rng() % 4); edits > 0; --edits) {
            const size_t at = rng() % text.size();
            switch (rng() % 3) {
                case 0:
                    text[at] = alphabet[rng() % (sizeof alphabet - 1)];
                    break;
                case 1:
                    text.erase(at, 1 + rng() % 8);
                    break;
                default:
                    text.insert(at, text.substr(at, 1 + rng() % 16));
                    break;
            }
        }
        auto saved = read_report(text);
        if (!saved) {
            EXPECT_EQ(saved.error().message.find('\n'), std::string::npos);
            continue;
        }
        ++accepted;
        for (Format f : {Format::Text, Format::Json, Format::Folded, Format::Svg,
                         Format::Speedscope, Format::Pprof})
            EXPECT_FALSE(render(saved->report, f, saved->context).empty());
    }
    EXPECT_GT(accepted, 0u) << "some damage (inside strings) leaves a valid report";
}

TEST(ReadReport, ErrorsShowUntrustedBytesEscaped) {
    auto saved = read_report(with("/schema", "evil\n\x1b[2Jschema"));
    ASSERT_FALSE(saved);
    EXPECT_NE(saved.error().message.find("evil\\x0a\\x1b[2Jschema"), std::string::npos)
        << saved.error().message;
}

}  // namespace
}  // namespace cwtrace
