// What each flame-style format promises on its own (folded, SVG, speedscope, pprof, and the
// format names), read back as its consumers read it (flame_readers.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "flame_readers.h"
#include "google/protobuf/unknown_field_set.h"
#include "render/render.h"
#include "report_fixtures.h"

namespace cwtrace {
namespace {

using namespace fixtures;
using namespace flame_readers;

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
    for (const char* user : {"handle_request", "connect"})
        EXPECT_TRUE(fill[user].r > fill[user].b && fill[user].r >= 200) << user << ": warm";
    for (const char* kernel : {"tcp_v4_connect", "do_syscall_64"})
        EXPECT_TRUE(fill[kernel].b > fill[kernel].r && fill[kernel].b >= 200) << kernel << ": blue";
    // CPython's own C code counts as the interpreter's, like the script's frames.
    for (const char* interp : {"_PyEval_EvalFrameDefault", "sock_connect_impl"})
        EXPECT_TRUE(fill[interp].g > fill[interp].r && fill[interp].g > fill[interp].b)
            << interp << ": green";
    EXPECT_TRUE(fill["python3"].b > fill["python3"].g && fill["python3"].r > fill["python3"].g)
        << "process: purple";
    // Each path's own frame, native or Python, in the colour no kind has: magenta.
    for (const char* own : {"open_leaky", "fetch_page"})
        EXPECT_TRUE(fill[own].r >= 200 && fill[own].b >= 150 && fill[own].g <= 90) << own;
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

// What a symbolizer needs for each user frame (pprof's Mapping and Location): the frame's file
// offset is its address less its mapping's start, the mapping holds the address and names the
// file's build id; and no kernel location has an address.
TEST(RenderPprof, UserLocationsCanBeSymbolizedLater) {
    const Report r = accept_ipv6_report();
    const pb::Profile p = read_pprof(render_pprof(r, kHost));
    const auto& frames = r.sockets.front().origin->user_stack;
    size_t checked = 0;
    for (const auto& loc : p.location()) {
        const auto& fn = p.function(static_cast<int>(loc.line(0).function_id() - 1));
        const auto frame = std::find_if(frames.begin(), frames.end(), [&](const Frame& f) {
            return f.function == str(p, fn.name());
        });
        if (frame == frames.end()) {
            EXPECT_EQ(loc.address(), 0u) << str(p, fn.name());  // kernel frames keep none
            continue;
        }
        ++checked;
        ASSERT_GT(loc.mapping_id(), 0u);
        const auto& m = p.mapping(static_cast<int>(loc.mapping_id() - 1));
        EXPECT_EQ(loc.address(), *frame->address) << frame->function;
        EXPECT_EQ(loc.address() - m.memory_start(), *frame->file_offset) << frame->function;
        EXPECT_LT(loc.address(), m.memory_limit()) << frame->function;
        EXPECT_EQ(str(p, m.build_id()), frame->build_id) << frame->function;
        EXPECT_EQ(str(p, m.filename()), frame->module) << frame->function;
    }
    EXPECT_EQ(checked, frames.size());
}

// Calls inlined at one address (the symbolizer gives each a frame there) are one location
// whose lines list them innermost first, the function they were inlined into last, as pprof
// reads inlining; a recursive call from one call site, the same function at one address, stays
// two locations.
TEST(RenderPprof, InlinedCallsAreOneLocationsLines) {
    Report r = accept_ipv6_report();
    Origin o = *r.sockets.front().origin;
    auto& stack = o.user_stack;  // innermost first
    const std::string bin = "/usr/local/bin/fetch";
    stack = {uf("net.Dial", bin),  uf("net/http.Get", bin), uf("main.fetch", bin),
             uf("main.walk", bin), uf("main.walk", bin),    uf("main.main", bin)};
    // http.Get inlined into main.fetch; main.walk calling itself from one site.
    const uint64_t at[] = {0x401000, 0x402000, 0x402000, 0x403000, 0x403000, 0x404000};
    for (size_t i = 0; i < stack.size(); ++i) {
        stack[i].address = at[i];
        stack[i].file_offset = at[i] - 0x400000;
    }
    const SharedOrigin shared(o);
    for (auto& s : r.sockets) s.origin = shared;
    const pb::Profile p = read_pprof(render_pprof(r, kHost));
    ASSERT_EQ(p.sample_size(), 1);
    std::vector<std::vector<std::string>> lines;  // per user location, leaf first
    for (uint64_t id : p.sample(0).location_id()) {
        const auto& loc = p.location(static_cast<int>(id - 1));
        if (loc.address() == 0) continue;  // kernel
        auto& names = lines.emplace_back();
        for (const auto& line : loc.line())
            names.push_back(str(p, p.function(static_cast<int>(line.function_id() - 1)).name()));
    }
    const std::vector<std::vector<std::string>> expected = {
        {"net.Dial"}, {"net/http.Get", "main.fetch"}, {"main.walk"}, {"main.walk"}, {"main.main"}};
    EXPECT_EQ(lines, expected);
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
