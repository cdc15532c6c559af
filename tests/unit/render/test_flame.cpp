// Flame-style renderers (folded, SVG, speedscope, pprof) on the fixed reports of
// report_fixtures.h: golden files byte for byte, and properties every format must keep, checked
// by reading the output back (flame_readers.h). Per-format behaviour: test_flame_formats.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "flame_readers.h"
#include "google/protobuf/text_format.h"
#include "render/render.h"
#include "report_fixtures.h"

namespace cwtrace {
namespace {

using namespace fixtures;
using namespace flame_readers;

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
    s.age_estimate_seconds = std::numeric_limits<double>::infinity();  // no age: one socket
    EXPECT_EQ(flame_weight_of(s, FlameWeight::Seconds), 1u);
    EXPECT_EQ(parse_flame_weight("seconds"), FlameWeight::Seconds);
    EXPECT_EQ(parse_flame_weight("sockets"), FlameWeight::Sockets);
    EXPECT_FALSE(parse_flame_weight("Seconds"));
}

INSTANTIATE_TEST_SUITE_P(Cases, FlameProps, testing::ValuesIn(cases()), case_name);

}  // namespace
}  // namespace cwtrace
