// Flame-style renderers (folded, SVG, speedscope, pprof): golden files from the fixed reports of
// report_fixtures.h, and what their readers rely on, checked by reading the output back:
// flamegraph.pl's line grammar, an XML parser (libxml2), JSON, and protobuf + zlib for pprof.
#include <gtest/gtest.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "google/protobuf/text_format.h"
#include "google/protobuf/unknown_field_set.h"
#include "model/report.h"
#include "profile.pb.h"
#include "render/render.h"
#include "report_fixtures.h"

namespace cwtrace {
namespace {

using namespace fixtures;
namespace pb = perftools::profiles;

const ReportContext kHost{"web-1.example"};

// ---- Folded, read as flamegraph.pl reads it ----

struct FoldedLine {
    std::vector<std::string> frames;
    uint64_t count = 0;
};

// flamegraph.pl's grammar: the count is the number after the line's last space; the stack
// before it is split on ';'.
std::vector<FoldedLine> parse_folded(const std::string& text) {
    std::vector<FoldedLine> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        const size_t space = line.rfind(' ');
        const bool ok = space != std::string::npos && space > 0 && space + 1 < line.size() &&
                        line.find_first_not_of("0123456789", space + 1) == std::string::npos;
        EXPECT_TRUE(ok) << "not a folded line: " << line;
        if (!ok) continue;
        FoldedLine f{{}, std::stoull(line.substr(space + 1))};
        std::string frame;
        std::istringstream frames(line.substr(0, space));
        while (std::getline(frames, frame, ';')) f.frames.push_back(frame);
        lines.push_back(std::move(f));
    }
    return lines;
}

// Frames of the flame graph: every distinct path prefix, plus the root.
size_t flame_frame_count(const std::vector<FoldedLine>& lines) {
    std::set<std::vector<std::string>> prefixes;
    for (const auto& l : lines)
        for (size_t n = 1; n <= l.frames.size(); ++n)
            prefixes.emplace(l.frames.begin(), l.frames.begin() + static_cast<long>(n));
    return prefixes.empty() ? 0 : prefixes.size() + 1;
}

// ---- pprof, read back ----

std::string gunzip(const std::string& gz) {
    z_stream zs = {};
    EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);  // gzip only, not raw zlib
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
    zs.avail_in = static_cast<uInt>(gz.size());
    std::string out;
    char buf[16384];
    int rc = Z_OK;
    while (rc == Z_OK) {
        zs.next_out = reinterpret_cast<Bytef*>(buf);
        zs.avail_out = sizeof buf;
        rc = inflate(&zs, Z_NO_FLUSH);
        out.append(buf, sizeof buf - zs.avail_out);
    }
    inflateEnd(&zs);
    EXPECT_EQ(rc, Z_STREAM_END) << "not a complete gzip stream";
    return out;
}

pb::Profile read_pprof(const std::string& gz) {
    pb::Profile p;
    EXPECT_TRUE(p.ParseFromString(gunzip(gz))) << "not a perftools.profiles.Profile";
    return p;
}

std::string str(const pb::Profile& p, int64_t index) {
    if (index < 0 || index >= p.string_table_size()) {
        ADD_FAILURE() << "string index " << index << " outside the table";
        return "";
    }
    return p.string_table(static_cast<int>(index));
}

// ---- SVG, read back by libxml2 ----

struct XmlDoc {
    xmlDocPtr doc = nullptr;
    explicit XmlDoc(const std::string& text)
        : doc(xmlReadMemory(text.data(), static_cast<int>(text.size()), "flame.svg", nullptr,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)) {}
    ~XmlDoc() { xmlFreeDoc(doc); }
    XmlDoc(const XmlDoc&) = delete;
    XmlDoc& operator=(const XmlDoc&) = delete;
};

std::string attr(xmlNodePtr node, const char* name) {
    xmlChar* v = xmlGetProp(node, reinterpret_cast<const xmlChar*>(name));
    if (!v) return "";
    std::string s(reinterpret_cast<const char*>(v));
    xmlFree(v);
    return s;
}

std::string name_of(xmlNodePtr node) { return reinterpret_cast<const char*>(node->name); }

std::string text_of(xmlNodePtr node) {
    xmlChar* v = xmlNodeGetContent(node);
    std::string s(v ? reinterpret_cast<const char*>(v) : "");
    xmlFree(v);
    return s;
}

void collect(xmlNodePtr node, const std::string& element, std::vector<xmlNodePtr>& out) {
    for (xmlNodePtr n = node; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        if (name_of(n) == element) out.push_back(n);
        collect(n->children, element, out);
    }
}

// The frames of the flame graph: <g class="f"> elements.
std::vector<xmlNodePtr> svg_frames(const XmlDoc& x) {
    std::vector<xmlNodePtr> groups, frames;
    collect(xmlDocGetRootElement(x.doc), "g", groups);
    for (auto* g : groups)
        if (attr(g, "class") == "f") frames.push_back(g);
    return frames;
}

xmlNodePtr child(xmlNodePtr node, const char* element) {
    for (xmlNodePtr n = node->children; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE && name_of(n) == element) return n;
    return nullptr;
}

struct Rgb {
    int r = 0, g = 0, b = 0;
};

Rgb fill_of(xmlNodePtr frame) {
    Rgb c;
    std::sscanf(attr(child(frame, "rect"), "fill").c_str(), "rgb(%d,%d,%d)", &c.r, &c.g, &c.b);
    return c;
}

// ---- Golden files ----

// flame_graph.js as in the source tree: the script every SVG embeds whole.
const std::string& flame_graph_js() {
    static const std::string script = [] {
        std::ifstream in(CWTRACE_FLAME_GRAPH_JS, std::ios::binary);
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }();
    return script;
}

// The SVG goldens hold a placeholder where the script stands, so that an edit of the script
// re-blesses none: the browser test runs the script, RenderSvg.EmbedsFlameGraphJsWhole finds it.
std::string with_script_placeholder(std::string svg) {
    const std::string& script = flame_graph_js();
    const size_t at = script.empty() ? std::string::npos : svg.find(script);
    if (at != std::string::npos) svg.replace(at, script.size(), "/* flame_graph.js */\n");
    return svg;
}

class FlameGolden : public testing::TestWithParam<Case> {};

TEST_P(FlameGolden, Folded) {
    expect_golden(std::string(GetParam().name) + ".folded", render_folded(GetParam().make()));
}

TEST_P(FlameGolden, Svg) {
    expect_golden(std::string(GetParam().name) + ".svg",
                  with_script_placeholder(render_svg(GetParam().make(), kHost)));
}

TEST_P(FlameGolden, Speedscope) {
    expect_golden(std::string(GetParam().name) + ".speedscope.json",
                  render_speedscope(GetParam().make(), kHost));
}

// The profile decoded to protobuf's text format: readable, and independent of zlib's version.
TEST_P(FlameGolden, Pprof) {
    std::string text;
    ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(
        read_pprof(render_pprof(GetParam().make(), kHost)), &text));
    expect_golden(std::string(GetParam().name) + ".pprof.txt", text);
}

INSTANTIATE_TEST_SUITE_P(Cases, FlameGolden, testing::ValuesIn(cases()), case_name);

// ---- Properties of every case ----

class FlameProps : public testing::TestWithParam<Case> {};

TEST_P(FlameProps, SameReportSameBytesInEveryFormat) {
    const Report r = GetParam().make();
    for (Format f : {Format::Folded, Format::Svg, Format::Speedscope, Format::Pprof})
        EXPECT_EQ(render(r, f, kHost), render(r, f, kHost)) << to_string(f);
}

TEST_P(FlameProps, DispatcherCallsEachRenderer) {
    const Report r = GetParam().make();
    EXPECT_EQ(render(r, Format::Folded, kHost), render_folded(r));
    EXPECT_EQ(render(r, Format::Svg, kHost), render_svg(r, kHost));
    EXPECT_EQ(render(r, Format::Speedscope, kHost), render_speedscope(r, kHost));
    EXPECT_EQ(render(r, Format::Pprof, kHost), render_pprof(r, kHost));
    EXPECT_EQ(render(r, Format::Text, kHost), render_text(r));
    EXPECT_EQ(render(r, Format::Json, kHost), render_json(r, kHost));
}

TEST_P(FlameProps, FoldedLinesParseSortedUniqueAndCountEverySocket) {
    const Report r = GetParam().make();
    const std::string out = render_folded(r);
    const auto lines = parse_folded(out);
    uint64_t total = 0;
    std::vector<std::string> stacks;
    for (const auto& l : lines) {
        total += l.count;
        EXPECT_GE(l.frames.size(), 2u) << "comm and at least one frame";
        for (const auto& f : l.frames) EXPECT_FALSE(f.empty()) << out;
        std::string joined;
        for (const auto& f : l.frames) joined += f + ";";
        stacks.push_back(joined);
    }
    EXPECT_EQ(total, r.sockets.size());
    EXPECT_TRUE(std::is_sorted(stacks.begin(), stacks.end())) << out;
    EXPECT_EQ(std::set<std::string>(stacks.begin(), stacks.end()).size(), stacks.size()) << out;
    for (unsigned char c : out) EXPECT_TRUE(c == '\n' || c >= 0x20) << "control byte " << int(c);
}

TEST_P(FlameProps, SvgIsWellFormedXmlWithOneFramePerPathPrefix) {
    const Report r = GetParam().make();
    const std::string svg = render_svg(r, kHost);
    XmlDoc x(svg);
    ASSERT_NE(x.doc, nullptr) << "not well-formed XML";
    xmlNodePtr root = xmlDocGetRootElement(x.doc);
    EXPECT_EQ(name_of(root), "svg");
    EXPECT_EQ(attr(root, "data-total"), std::to_string(r.sockets.size()));
    const auto frames = svg_frames(x);
    EXPECT_EQ(frames.size(), flame_frame_count(parse_folded(render_folded(r))));
    for (auto* f : frames) {
        ASSERT_NE(child(f, "title"), nullptr);
        ASSERT_NE(child(f, "rect"), nullptr);
        ASSERT_NE(child(f, "text"), nullptr);
        EXPECT_GT(std::stod(attr(child(f, "rect"), "width")), 0.0);
    }
    if (!frames.empty()) {  // the root spans the graph and holds every socket
        EXPECT_EQ(attr(frames[0], "data-n"), "all");
        EXPECT_EQ(attr(frames[0], "data-w"), std::to_string(r.sockets.size()));
        EXPECT_EQ(attr(child(frames[0], "rect"), "width"), "1180.00");
    }
}

TEST_P(FlameProps, SvgTitledWithMinAgeDurationAndHost) {
    const Report r = GetParam().make();
    XmlDoc x(render_svg(r, kHost));
    ASSERT_NE(x.doc, nullptr);
    std::vector<xmlNodePtr> texts;
    collect(xmlDocGetRootElement(x.doc), "text", texts);
    std::string subtitle;
    for (auto* t : texts)
        if (attr(t, "id") == "subtitle") subtitle = text_of(t);
    EXPECT_NE(subtitle.find(std::to_string(r.sockets.size()) +
                            (r.sockets.size() == 1 ? " socket " : " sockets ")),
              std::string::npos)
        << subtitle;
    EXPECT_NE(subtitle.find("for at least "), std::string::npos) << subtitle;
    EXPECT_NE(subtitle.find("traced "), std::string::npos) << subtitle;
    EXPECT_NE(subtitle.find("host web-1.example"), std::string::npos) << subtitle;
    EXPECT_EQ(subtitle.find("events lost") != std::string::npos, r.stats.lost_events > 0)
        << subtitle;
}

TEST_P(FlameProps, SpeedscopeSampledProfileWeightsAreSockets) {
    const Report r = GetParam().make();
    const auto j = nlohmann::json::parse(render_speedscope(r, kHost));
    EXPECT_EQ(j.at("$schema"), "https://www.speedscope.app/file-format-schema.json");
    const auto& frames = j.at("shared").at("frames");
    ASSERT_EQ(j.at("profiles").size(), 1u);
    const auto& p = j.at("profiles")[0];
    EXPECT_EQ(p.at("type"), "sampled");
    EXPECT_EQ(p.at("unit"), "none");
    ASSERT_EQ(p.at("samples").size(), p.at("weights").size());
    uint64_t total = 0;
    for (const auto& w : p.at("weights")) total += w.get<uint64_t>();
    EXPECT_EQ(total, r.sockets.size());
    EXPECT_EQ(p.at("endValue").get<uint64_t>(), total);
    for (const auto& sample : p.at("samples"))
        for (const auto& i : sample) EXPECT_LT(i.get<size_t>(), frames.size());
    for (const auto& f : frames) EXPECT_FALSE(f.at("name").get<std::string>().empty());
}

TEST_P(FlameProps, PprofSampleTotalsAreSocketsAndReferencesResolve) {
    const Report r = GetParam().make();
    const pb::Profile p = read_pprof(render_pprof(r, kHost));
    ASSERT_GT(p.string_table_size(), 0);
    EXPECT_EQ(p.string_table(0), "");
    ASSERT_EQ(p.sample_type_size(), 1);
    EXPECT_EQ(str(p, p.sample_type(0).type()), "sockets");
    EXPECT_EQ(str(p, p.sample_type(0).unit()), "count");
    EXPECT_EQ(str(p, p.default_sample_type()), "sockets");

    std::map<uint64_t, const pb::Function*> functions;
    std::set<uint64_t> mappings, locations;
    std::set<std::string> files;  // the report's modules, and the kernel's
    for (const auto& s : r.sockets) {
        for (const auto& f : s.origin->user_stack) files.insert(f.module);
        if (!s.origin->kernel_stack.empty()) files.insert("[kernel.kallsyms]");
    }
    files.erase("");
    for (const auto& m : p.mapping()) {
        EXPECT_TRUE(mappings.insert(m.id()).second && m.id() != 0) << "mapping ids unique, > 0";
        EXPECT_FALSE(str(p, m.filename()).empty());
        EXPECT_TRUE(files.count(str(p, m.filename()))) << str(p, m.filename());
    }
    EXPECT_EQ(p.mapping_size(), static_cast<int>(files.size())) << "one mapping per file";
    for (const auto& f : p.function()) {
        EXPECT_TRUE(functions.emplace(f.id(), &f).second && f.id() != 0);
        EXPECT_FALSE(str(p, f.name()).empty()) << "every function has a name";
    }
    for (const auto& l : p.location()) {
        EXPECT_TRUE(locations.insert(l.id()).second && l.id() != 0);
        ASSERT_EQ(l.line_size(), 1);
        ASSERT_TRUE(functions.count(l.line(0).function_id()));
        const pb::Function& fn = *functions[l.line(0).function_id()];
        // A frame in a file (a mapping) has that file as its function's file name.
        if (l.mapping_id() != 0) {
            ASSERT_TRUE(mappings.count(l.mapping_id()));
            const auto& m = p.mapping(static_cast<int>(l.mapping_id() - 1));
            EXPECT_EQ(m.id(), l.mapping_id());
            EXPECT_EQ(str(p, fn.filename()), str(p, m.filename()));
        } else {
            EXPECT_EQ(str(p, fn.filename()), "") << "no mapping: a frame without a file";
        }
    }
    int64_t total = 0;
    for (const auto& s : p.sample()) {
        ASSERT_EQ(s.value_size(), 1);
        total += s.value(0);
        for (uint64_t id : s.location_id()) EXPECT_TRUE(locations.count(id));
        ASSERT_EQ(s.label_size(), 1);
        EXPECT_EQ(str(p, s.label(0).key()), "comm");
        EXPECT_FALSE(str(p, s.label(0).str()).empty());
    }
    EXPECT_EQ(total, static_cast<int64_t>(r.sockets.size()));
}

// --weight seconds: every format measures the time the path's sockets spent in CLOSE_WAIT.
TEST_P(FlameProps, WeightedBySecondsEveryFormatAddsUpToTheSocketsSeconds) {
    const Report r = GetParam().make();
    uint64_t seconds = 0;
    for (const auto& s : r.sockets) seconds += flame_weight_of(s, FlameWeight::Seconds);
    ReportContext context = kHost;
    context.weight = FlameWeight::Seconds;

    uint64_t folded = 0;
    for (const auto& l : parse_folded(render(r, Format::Folded, context))) folded += l.count;
    EXPECT_EQ(folded, seconds);

    const auto j = nlohmann::json::parse(render_speedscope(r, context));
    EXPECT_EQ(j.at("profiles")[0].at("unit"), "seconds");
    EXPECT_EQ(j.at("profiles")[0].at("endValue").get<uint64_t>(), seconds);

    const pb::Profile p = read_pprof(render_pprof(r, context));
    ASSERT_EQ(p.sample_type_size(), 1);
    EXPECT_EQ(p.string_table(p.sample_type(0).type()), "close_wait");
    EXPECT_EQ(p.string_table(p.sample_type(0).unit()), "seconds");
    int64_t pprof_total = 0;
    for (const auto& sample : p.sample()) pprof_total += sample.value(0);
    EXPECT_EQ(static_cast<uint64_t>(pprof_total), seconds);

    if (!r.sockets.empty()) {
        EXPECT_NE(render_svg(r, context).find(std::to_string(seconds) + " s spent in CLOSE_WAIT"),
                  std::string::npos);
    }
}

TEST(FlameWeight, WholeSecondsAndAtLeastOnePerSocket) {
    SocketEntry s;
    s.close_wait_seconds = 0.2;
    EXPECT_EQ(flame_weight_of(s, FlameWeight::Sockets), 1u);
    EXPECT_EQ(flame_weight_of(s, FlameWeight::Seconds), 1u);
    s.close_wait_seconds = 90.4;
    EXPECT_EQ(flame_weight_of(s, FlameWeight::Seconds), 90u);
    s.age_estimate_seconds = 3600.6;  // found at start: judged by the estimate
    EXPECT_EQ(flame_weight_of(s, FlameWeight::Seconds), 3601u);
    EXPECT_EQ(parse_flame_weight("seconds"), FlameWeight::Seconds);
    EXPECT_EQ(parse_flame_weight("sockets"), FlameWeight::Sockets);
    EXPECT_FALSE(parse_flame_weight("Seconds"));
}

INSTANTIATE_TEST_SUITE_P(Cases, FlameProps, testing::ValuesIn(cases()), case_name);

// ---- Specific behaviour ----

TEST(RenderFolded, RootFirstUserThenKernelFramesMarked) {
    EXPECT_EQ(render_folded(connect_ipv4_report()),
              "python3;__libc_start_call_main;main;handle_request;open_leaky;connect;"
              "entry_SYSCALL_64_after_hwframe_[k];do_syscall_64_[k];__x64_sys_connect_[k];"
              "__sys_connect_[k];inet_stream_connect_[k];__inet_stream_connect_[k];"
              "tcp_v4_connect_[k] 3\n");
}

TEST(RenderFolded, MissingStacksAndUnknownFramesNamed) {
    const std::string lost = render_folded(lost_events_report());
    EXPECT_EQ(lost.rfind("curl;[missing user stack];entry_SYSCALL_64_after_hwframe_[k];", 0), 0u)
        << lost;
    EXPECT_EQ(render_folded(unknown_origin_report()),
              "[unknown];[origin unknown] 1\njava;[origin unknown] 2\n");
    EXPECT_EQ(render_folded(python_no_kernel_stack_report()),
              "python3;main;[unknown];_PyEval_EvalFrameDefault;fetch_page;sock_connect_impl;"
              "connect;[missing kernel stack] 4\n");
}

TEST(RenderFolded, SemicolonsAndControlCharactersCannotBreakTheFormat) {
    const std::string out = render_folded(unusual_names_report());
    EXPECT_NE(out.find(";lambda:with:semicolons;"), std::string::npos) << out;
    EXPECT_NE(out.find(";evil\\x1b[2J\\x09name\\x0a;"), std::string::npos) << out;
    EXPECT_NE(out.find(";operator\"\"_conn(char const*, unsigned long);"), std::string::npos);
    const auto lines = parse_folded(out);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].count, 3u);
    // comm + 11 user frames + 8 kernel frames, none split or merged by the names' contents.
    EXPECT_EQ(lines[0].frames.size(), 1u + 11u + 8u);
}

TEST(RenderFolded, EqualPathsMergeAcrossSocketsAndBiggestCountsAreExact) {
    const auto lines = parse_folded(render_folded(big_and_tiny_report()));
    EXPECT_EQ(lines.size(), 31u);
    const auto big = std::find_if(lines.begin(), lines.end(), [](const FoldedLine& l) {
        return std::find(l.frames.begin(), l.frames.end(), "db::Pool::acquire()") != l.frames.end();
    });
    ASSERT_NE(big, lines.end());
    EXPECT_EQ(big->count, 120u);
    EXPECT_EQ(big->frames.front(), "api-server");
}

TEST(RenderFolded, EmptyReportIsEmpty) { EXPECT_EQ(render_folded(empty_report()), ""); }

TEST(RenderSvg, NamesWithMarkupSurviveAsText) {
    XmlDoc x(render_svg(unusual_names_report(), kHost));
    ASSERT_NE(x.doc, nullptr);
    std::set<std::string> names;
    for (auto* f : svg_frames(x)) names.insert(attr(f, "data-n"));
    for (const char* want : {"cmp<a&b>(x<y, z>w)", "operator\"\"_conn(char const*, unsigned long)",
                             "weird\"comm\\", "lambda;with;semicolons", "naïve_函数_🚀_connect",
                             "evil\\x1b[2J\\x09name\\x0a", "bad\\xff\\xfe utf8"})
        EXPECT_TRUE(names.count(want)) << want;
}

TEST(RenderSvg, ColoursTellUserKernelInterpreterAndProcessApart) {
    Report r = python_no_kernel_stack_report();
    for (auto s : connect_ipv4_report().sockets) r.sockets.push_back(s);
    XmlDoc x(render_svg(r, kHost));
    ASSERT_NE(x.doc, nullptr);
    std::map<std::string, Rgb> fill;
    for (auto* f : svg_frames(x)) fill[attr(f, "data-n")] = fill_of(f);
    for (const char* user : {"open_leaky", "handle_request", "connect"})
        EXPECT_TRUE(fill[user].r > fill[user].b && fill[user].r >= 200) << user << ": warm";
    for (const char* kernel : {"tcp_v4_connect", "do_syscall_64"})
        EXPECT_TRUE(fill[kernel].b > fill[kernel].r && fill[kernel].b >= 200) << kernel << ": blue";
    // CPython's own C code counts as the interpreter's, like the script's frames.
    for (const char* interp : {"_PyEval_EvalFrameDefault", "fetch_page", "sock_connect_impl"})
        EXPECT_TRUE(fill[interp].g > fill[interp].r && fill[interp].g > fill[interp].b)
            << interp << ": green";
    EXPECT_TRUE(fill["python3"].b > fill["python3"].g && fill["python3"].r > fill["python3"].g)
        << "process: purple";
}

TEST(RenderSvg, WidestTowerIsTheBiggestLeak) {
    XmlDoc x(render_svg(big_and_tiny_report(), kHost));
    ASSERT_NE(x.doc, nullptr);
    std::map<std::string, double> width;
    for (auto* f : svg_frames(x))
        width[attr(f, "data-n")] = std::stod(attr(child(f, "rect"), "width"));
    EXPECT_NEAR(width["db::Pool::acquire()"], 1180.0 * 120 / 165, 0.01);
    EXPECT_NEAR(width["handler_00"], 1180.0 * 2 / 165, 0.01);
}

TEST(RenderSvg, EmptyReportSaysSoAndHasNoFrames) {
    const std::string svg = render_svg(empty_report(), kHost);
    XmlDoc x(svg);
    ASSERT_NE(x.doc, nullptr);
    EXPECT_TRUE(svg_frames(x).empty());
    EXPECT_NE(svg.find("No sockets in CLOSE_WAIT for at least 30s."), std::string::npos);
}

TEST(RenderSvg, NeedsNothingFromTheNetwork) {
    const std::string svg = render_svg(big_and_tiny_report(), kHost);
    EXPECT_EQ(svg.find("href"), std::string::npos);
    EXPECT_EQ(svg.find("@import"), std::string::npos);
    EXPECT_EQ(svg.find("url("), std::string::npos);
    EXPECT_EQ(svg.find("http://", svg.find("xmlns=\"http://www.w3.org/2000/svg\"") + 10),
              std::string::npos);
}

// The script the goldens leave out: the SVG carries flame_graph.js whole, in the script element
// that closes it.
TEST(RenderSvg, EmbedsFlameGraphJsWhole) {
    EXPECT_NE(render_svg(connect_ipv4_report(), kHost)
                  .find("<script><![CDATA[\n" + flame_graph_js() + "]]></script>\n</svg>\n"),
              std::string::npos)
        << "cannot read or find " << CWTRACE_FLAME_GRAPH_JS;
}

TEST(RenderSpeedscope, SamplesAreRootFirst) {
    const auto j = nlohmann::json::parse(render_speedscope(connect_ipv4_report(), kHost));
    const auto& frames = j["shared"]["frames"];
    const auto& sample = j["profiles"][0]["samples"][0];
    EXPECT_EQ(frames[sample.front().get<size_t>()]["name"], "python3");
    EXPECT_EQ(frames[sample.back().get<size_t>()]["name"], "tcp_v4_connect");
    EXPECT_EQ(frames[sample.back().get<size_t>()]["file"], "[kernel.kallsyms]");
    EXPECT_EQ(frames[sample[1].get<size_t>()]["name"], "__libc_start_call_main");
    EXPECT_EQ(frames[sample[1].get<size_t>()]["file"], kLibc);
    EXPECT_EQ(j["profiles"][0]["weights"][0], 3);
    EXPECT_NE(j["name"].get<std::string>().find("web-1.example"), std::string::npos);
}

TEST(RenderPprof, LeafFirstWithFileNames) {
    const pb::Profile p = read_pprof(render_pprof(connect_ipv4_report(), kHost));
    ASSERT_EQ(p.sample_size(), 1);
    const auto& s = p.sample(0);
    auto function_of = [&](uint64_t location_id) -> const pb::Function& {
        const auto& loc = p.location(static_cast<int>(location_id - 1));
        EXPECT_EQ(loc.id(), location_id);
        return p.function(static_cast<int>(loc.line(0).function_id() - 1));
    };
    EXPECT_EQ(str(p, function_of(s.location_id(0)).name()), "tcp_v4_connect");
    EXPECT_EQ(str(p, function_of(s.location_id(0)).filename()), "[kernel.kallsyms]");
    const auto& outermost = function_of(s.location_id(s.location_id_size() - 1));
    EXPECT_EQ(str(p, outermost.name()), "__libc_start_call_main");
    EXPECT_EQ(str(p, outermost.filename()), kLibc);
    EXPECT_EQ(s.location_id_size(), 5 + 7);
    EXPECT_EQ(s.value(0), 3);
    EXPECT_EQ(str(p, s.label(0).str()), "python3");
    EXPECT_EQ(p.duration_nanos(), 61'200'000'000);
    std::string comments;
    for (int64_t c : p.comment()) comments += str(p, c) + "\n";
    EXPECT_NE(comments.find("at least 30s"), std::string::npos) << comments;
    EXPECT_NE(comments.find("host web-1.example"), std::string::npos) << comments;
}

TEST(RenderPprof, LostEventsAreSaidInAComment) {
    const pb::Profile p = read_pprof(render_pprof(lost_events_report(), kHost));
    std::string comments;
    for (int64_t c : p.comment()) comments += str(p, c) + "\n";
    EXPECT_NE(comments.find("17 events lost"), std::string::npos) << comments;
}

// Read without cwtrace's profile.proto: the wire format must carry pprof's published field
// numbers (Profile.sample_type = 1, sample = 2, string_table = 6; Sample.value = 2; ValueType
// type = 1, unit = 2), or go tool pprof would read something else.
TEST(RenderPprof, FieldNumbersAreThoseOfPprofsSchema) {
    using google::protobuf::UnknownField;
    using google::protobuf::UnknownFieldSet;
    UnknownFieldSet profile;
    ASSERT_TRUE(profile.ParseFromString(gunzip(render_pprof(big_and_tiny_report(), kHost))));
    std::vector<std::string> strings;
    std::vector<const UnknownField*> sample_types, samples;
    for (int i = 0; i < profile.field_count(); ++i) {
        const UnknownField& f = profile.field(i);
        if (f.number() == 6) strings.push_back(f.length_delimited());
        if (f.number() == 1) sample_types.push_back(&f);
        if (f.number() == 2) samples.push_back(&f);
    }
    ASSERT_FALSE(strings.empty());
    EXPECT_EQ(strings[0], "");
    ASSERT_EQ(sample_types.size(), 1u);
    UnknownFieldSet vt;
    ASSERT_TRUE(vt.ParseFromString(sample_types[0]->length_delimited()));
    std::map<int, uint64_t> vt_fields;
    for (int i = 0; i < vt.field_count(); ++i)
        vt_fields[vt.field(i).number()] = vt.field(i).varint();
    EXPECT_EQ(strings.at(vt_fields.at(1)), "sockets");
    EXPECT_EQ(strings.at(vt_fields.at(2)), "count");
    uint64_t total = 0;
    for (const auto* s : samples) {
        UnknownFieldSet sample;
        ASSERT_TRUE(sample.ParseFromString(s->length_delimited()));
        for (int i = 0; i < sample.field_count(); ++i) {
            if (sample.field(i).number() != 2) continue;
            // repeated int64 value, packed: one varint per sample type.
            const std::string packed = sample.field(i).length_delimited();
            uint64_t v = 0;
            int shift = 0;
            for (unsigned char c : packed) {
                v |= static_cast<uint64_t>(c & 0x7F) << shift;
                shift += 7;
                if (!(c & 0x80)) {
                    total += v;
                    v = 0;
                    shift = 0;
                }
            }
        }
    }
    EXPECT_EQ(total, 165u);
}

TEST(RenderJson, HostAddedLastWhenKnown) {
    const std::string with = render_json(connect_ipv4_report(), kHost);
    const auto j = nlohmann::ordered_json::parse(with);
    EXPECT_EQ(j.at("host"), "web-1.example");
    EXPECT_EQ(j.items().begin().key(), "schema");
    EXPECT_EQ(std::prev(j.end()).key(), "host");
    EXPECT_EQ(render_json(connect_ipv4_report()).find("\"host\""), std::string::npos);
}

TEST(Formats, NamesAndStreaming) {
    const std::pair<Format, const char*> names[] = {{Format::Text, "text"},
                                                    {Format::Json, "json"},
                                                    {Format::Folded, "folded"},
                                                    {Format::Svg, "svg"},
                                                    {Format::Speedscope, "speedscope"},
                                                    {Format::Pprof, "pprof"}};
    for (const auto& [f, name] : names) {
        EXPECT_STREQ(to_string(f), name);
        EXPECT_EQ(is_streaming(f), f == Format::Text || f == Format::Json) << name;
    }
}

}  // namespace
}  // namespace cwtrace
