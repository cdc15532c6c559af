// The text report of a live requests-crawler report (report/requests_crawler.h): leaks headed by
// the crawler's own line, paths reaching it merged under one headline, library frames folded
// unless --full-stacks, paths shortened from the left, the width and colour asked for; and the
// own frame marked in the SVG and, with --mark-own, in folded output. Goldens are blessed by
// scripts/bless-goldens.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "flame_readers.h"
#include "render/render.h"
#include "render/text_layout.h"
#include "report_fixtures.h"
#include "requests_crawler.h"

namespace cwtrace {
namespace {

using fixtures::expect_golden;
using fixtures::requests_crawler_report;
using fixtures::requests_crawler_with_retry;

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

size_t count(const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
        ++n;
    return n;
}

ReportContext with(size_t width, bool color = false, bool full = false) {
    ReportContext c;
    c.text_width = width;
    c.color = color;
    c.full_stacks = full;
    return c;
}

TEST(OwnText, MergedAndFoldedGolden) {
    expect_golden("requests_crawler.txt", render_text(requests_crawler_with_retry()));
}

TEST(OwnText, PathsReachingTheSameLineShareOneHeadline) {
    const std::string text = render_text(requests_crawler_with_retry());
    EXPECT_EQ(count(text, "\n#"), 2u) << text;
    EXPECT_NE(text.find("\n#1  5 sockets opened in fetch_page (leaky_crawler.py:17) by connect()"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("\n#2  3 sockets opened in fetch_image (leaky_crawler.py:21)"),
              std::string::npos)
        << text;
    // Each path once, largest first, the retry's extra frame folded with the rest.
    const size_t first = text.find("    path 1 of 2: 3 sockets\n"),
                 second = text.find("    path 2 of 2: 2 sockets\n");
    ASSERT_NE(first, std::string::npos) << text;
    ASSERT_NE(second, std::string::npos) << text;
    EXPECT_LT(first, second);
    EXPECT_NE(text.find("… 20 frames in python3.11, urllib3, http.client, requests …", second),
              std::string::npos)
        << text;
    EXPECT_EQ(count(text, "path 1 of"), 1u) << text;
}

TEST(OwnText, LibraryFramesFoldUnlessFullStacks) {
    const Report r = requests_crawler_report();
    const std::string folded = render_text(r), full = render_text(r, with(80, false, true));
    EXPECT_EQ(count(folded, "… 19 frames in python3.11, urllib3, http.client, requests …\n"), 2u)
        << folded;
    EXPECT_EQ(count(folded, "HTTPConnectionPool.urlopen"), 0u) << folded;
    EXPECT_EQ(count(full, "…\n"), 0u) << full;
    // Every frame of both paths, each on its own line.
    EXPECT_EQ(count(full, "      HTTPConnectionPool.urlopen ("), 2u) << full;
    EXPECT_EQ(count(full, "      [unknown] (/usr/bin/python3.11)\n"), 6u) << full;
    EXPECT_EQ(lines_of(full).size(), lines_of(folded).size() + 2 * 18) << full;
}

TEST(OwnText, PathsKeepTheirFileAndLineAtAnyWidth) {
    for (size_t width : {40u, 60u, 80u, 132u}) {
        const std::string text = render_text(requests_crawler_report(), with(width, false, true));
        for (const auto& line : lines_of(text))
            EXPECT_LE(text_layout::width(line), width) << width << ": " << line;
        // Cut from the left: the line number always survives, the file's name and its package
        // from 60 columns on.
        EXPECT_NE(text.find(width < 60 ? "      create_connection (…nection.py:86)\n"
                                       : "/urllib3/util/connection.py:86)\n"),
                  std::string::npos)
            << width << "\n"
            << text;
    }
    // Wide enough: whole.
    const std::string wide = render_text(requests_crawler_report(), with(132, false, true));
    EXPECT_NE(wide.find(" (/usr/lib/python3/dist-packages/urllib3/util/connection.py:86)\n"),
              std::string::npos)
        << wide;
    EXPECT_NE(wide.find("#1  3 sockets opened in fetch_page (leaky_crawler.py:17) by connect(), "
                        "oldest 8.5s, median 8.4s\n"),
              std::string::npos)
        << wide;
}

TEST(OwnText, ColourOnlyWhenAskedAndOnlyAroundWholeLines) {
    const Report r = requests_crawler_report();
    EXPECT_EQ(render_text(r).find('\x1b'), std::string::npos);
    const std::string plain = render_text(r), coloured = render_text(r, with(80, true));
    EXPECT_NE(coloured.find("\x1b[1m#1  3 sockets opened in fetch_page"), std::string::npos)
        << coloured;
    EXPECT_NE(coloured.find("\x1b[36m    owner: python3[31003]\x1b[0m\n"), std::string::npos)
        << coloured;
    // The same text once the codes are taken out: colour never moves a line break.
    std::string stripped = coloured;
    for (size_t at; (at = stripped.find('\x1b')) != std::string::npos;)
        stripped.erase(at, stripped.find('m', at) - at + 1);
    EXPECT_EQ(stripped, plain);
    // Never in JSON.
    ReportContext c = with(80, true);
    EXPECT_EQ(render(r, Format::Json, c).find('\x1b'), std::string::npos);
}

TEST(OwnText, LossesInColour) {
    Report r = requests_crawler_report();
    r.stats.lost_events = 3;
    r.stats.ringbuf_full = 3;
    EXPECT_NE(render_text(r, with(80, true)).find("\x1b[1;31mWARNING: 3 events lost"),
              std::string::npos);
}

TEST(OwnFlame, SvgGoldenColoursTheOwnFrame) {
    using namespace flame_readers;
    const std::string svg = render_svg(requests_crawler_with_retry(), ReportContext{"test-host"});
    expect_golden("requests_crawler.svg", with_script_placeholder(svg));
    XmlDoc x(svg);
    ASSERT_NE(x.doc, nullptr);
    size_t own = 0;
    for (auto* f : svg_frames(x)) {
        const Rgb c = fill_of(f);
        const bool magenta = c.r >= 200 && c.b >= 150 && c.g <= 90;
        const std::string name = attr(f, "data-n");
        EXPECT_EQ(magenta, name == "fetch_page" || name == "fetch_image") << name;
        own += magenta;
    }
    EXPECT_EQ(own, 2u);  // both fetch_page paths share the box up to it
}

TEST(OwnFlame, FoldedMarksTheOwnFrameOnlyWhenAsked) {
    const Report r = requests_crawler_with_retry();
    const std::string plain = render_folded(r),
                      marked = render_folded(r, FlameWeight::Sockets, true);
    expect_golden("requests_crawler.folded", marked);
    EXPECT_EQ(plain.find("[own]"), std::string::npos);
    EXPECT_EQ(count(marked, ";fetch_page[own];get;"), 2u) << marked;
    EXPECT_EQ(count(marked, ";fetch_image[own];get;"), 1u) << marked;
    EXPECT_EQ(count(marked, "[own]"), 3u) << marked;
    // Through render(): the context's mark.
    ReportContext c;
    c.mark_own = true;
    EXPECT_EQ(render(r, Format::Folded, c), marked);
}

}  // namespace
}  // namespace cwtrace
