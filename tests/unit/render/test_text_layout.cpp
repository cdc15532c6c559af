// The text layout both text renderers share: widths in code points, shortening in the middle,
// greedy wrapping, plurals, frames and stacks; and the late-closes sections writing their frames
// as the main report does.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "render/render.h"
#include "render/text_layout.h"
#include "report_fixtures.h"

namespace cwtrace {
namespace {

using namespace text_layout;
using fixtures::kf;
using fixtures::uf;

const Layout L;  // 80 columns, no colour: what a file or a pipe gets

TEST(TextLayout, WidthCountsCodePoints) {
    EXPECT_EQ(width(""), 0u);
    EXPECT_EQ(width("abc"), 3u);
    EXPECT_EQ(width("naïve_函数_🚀"), 10u);
}

TEST(TextLayout, ShortenKeepsWhatFitsAndCutsTheMiddle) {
    EXPECT_EQ(shorten("abcdef", 6), "abcdef");
    EXPECT_EQ(shorten("abcdefghij", 5), "ab…ij");
    EXPECT_EQ(shorten("abcdefghij", 4), "ab…j");
    EXPECT_EQ(shorten("abcdefghij", 2), "a…");
    EXPECT_EQ(shorten("abcdefghij", 1), "…");
    EXPECT_EQ(shorten("abcdefghij", 0), "");
    EXPECT_EQ(shorten("", 0), "");
    // Never inside a code point.
    EXPECT_EQ(shorten("ααααββββ", 4), "αα…β");
    EXPECT_EQ(width(shorten("🚀🚀🚀🚀🚀🚀", 5)), 5u);
}

TEST(TextLayout, WrapBreaksBeforeTheWordThatWouldPassColumn80) {
    const std::string a40(40, 'a'), b39(39, 'b'), b40(40, 'b');
    EXPECT_EQ(L.wrap("", "  ", {a40, b39}), a40 + " " + b39 + "\n");  // exactly 80
    EXPECT_EQ(L.wrap("", "  ", {a40, b40}), a40 + "\n  " + b40 + "\n");
    EXPECT_EQ(L.wrap("> ", "", {"x", "y"}, ", "), "> x, y\n");
    EXPECT_EQ(L.wrap("indent", "", {}), "indent\n");
}

TEST(TextLayout, WrapShortensAWordTooLongForALineOfItsOwn) {
    const std::string out = L.wrap("    ", "    ", {"first", std::string(100, 'x')});
    EXPECT_EQ(out, "    first\n    " + shorten(std::string(100, 'x'), 76) + "\n");
    EXPECT_EQ(L.fitted_line("  ", std::string(100, 'y')),
              "  " + shorten(std::string(100, 'y'), 78) + "\n");
}

TEST(TextLayout, ShortenPathKeepsTheFileNameAndLine) {
    const std::string py = "/usr/lib/python3/dist-packages/urllib3/util/connection.py:86";
    EXPECT_EQ(shorten_path(py, py.size()), py);
    // Cut at the nearest '/' after the cut, so that the rest reads as a path.
    EXPECT_EQ(shorten_path(py, 40), "…/urllib3/util/connection.py:86");
    EXPECT_EQ(shorten_path(py, 20), "…/connection.py:86");
    EXPECT_LE(width(shorten_path(py, 12)), 12u);
    EXPECT_EQ(shorten_path(py, 12), "…ction.py:86");  // no '/' left: the end of the name
    // A native frame's module and source: the source survives.
    const std::string so =
        "/root/.pyenv/versions/3.11.7/lib/python3.11/lib-dynload/"
        "_socket.cpython-311-x86_64-linux-gnu.so, socketmodule.c:3253";
    EXPECT_EQ(shorten_path(so, 74),
              "…/lib-dynload/_socket.cpython-311-x86_64-linux-gnu.so, socketmodule.c:3253");
    EXPECT_EQ(shorten_path(so, 72),
              "…/_socket.cpython-311-x86_64-linux-gnu.so, socketmodule.c:3253");
    EXPECT_EQ(shorten_path("αβγ/δεζ", 5), "…/δεζ");  // code points, not bytes
    EXPECT_EQ(shorten_path("αβγ/δεζ", 4), "…δεζ");
    EXPECT_EQ(shorten_path(py, 0), "");
}

TEST(TextLayout, OwnFrameTextKeepsTheLineOfALongFileName) {
    Frame f{"session_per_call", "/srv/crawler.py"};
    f.file = "/srv/crawler.py";
    f.line = 69;
    EXPECT_EQ(own_frame_text(f), "session_per_call (crawler.py:69)");
    f.file = "/srv/" + std::string(60, 'n') + ".py";
    const std::string text = own_frame_text(f);
    EXPECT_EQ(text.rfind("session_per_call (…nnn", 0), 0u) << text;
    EXPECT_TRUE(text.ends_with("nnn.py:69)")) << text;
    EXPECT_EQ(own_frame_text(uf("open_connection", "/usr/bin/leaky_client")),
              "open_connection (leaky_client)");
}

TEST(TextLayout, WidthIsTheLayoutsOwn) {
    const Layout wide(120);
    const std::string a60(60, 'a'), b59(59, 'b');
    EXPECT_EQ(wide.wrap("", "  ", {a60, b59}), a60 + " " + b59 + "\n");
    EXPECT_EQ(L.wrap("", "  ", {a60, b59}), a60 + "\n  " + b59 + "\n");
    // Narrower than a frame line can be laid out in is taken as the narrowest that can.
    EXPECT_EQ(Layout(10).columns(), kMinWidth);
    EXPECT_EQ(L.columns(), 80u);
}

TEST(TextLayout, PaintWrapsEachLineOnlyWithColour) {
    EXPECT_EQ(L.paint("a\nb\n", Paint::Owner), "a\nb\n");
    EXPECT_EQ(Layout(80, true).paint("a\nb\n", Paint::Owner),
              "\x1b[36ma\x1b[0m\n\x1b[36mb\x1b[0m\n");
}

TEST(TextLayout, SplitWordsSkipsRunsOfSpaces) {
    EXPECT_EQ(split_words("  a  bc d "), (std::vector<std::string>{"a", "bc", "d"}));
    EXPECT_TRUE(split_words("").empty());
    EXPECT_TRUE(split_words("   ").empty());
}

TEST(TextLayout, PluralOnlyForOne) {
    EXPECT_EQ(plural(0, "socket", "sockets"), "0 sockets");
    EXPECT_EQ(plural(1, "socket", "sockets"), "1 socket");
    EXPECT_EQ(plural(2, "socket", "sockets"), "2 sockets");
}

TEST(TextLayout, HowOpenedNamesTheCall) {
    Origin o;
    EXPECT_EQ(how_opened(o), "origin unknown");
    o.kind = OriginKind::Accept;
    EXPECT_EQ(how_opened(o), "opened by accept()");
}

Frame with_source(Frame f, std::string file, int line) {
    f.file = std::move(file);
    f.line = line;
    return f;
}

TEST(TextLayout, FrameLineShowsTheSourcePosition) {
    EXPECT_EQ(
        L.frame_line(with_source(uf("open_leaky", "/usr/bin/app"), "/src/leaky.c", 41), false),
        "      open_leaky (/usr/bin/app, leaky.c:41)\n");
    EXPECT_EQ(L.frame_line(with_source(uf("fetch_page", ""), "crawler.py", 12), false),
              "      fetch_page (crawler.py:12)\n");
    EXPECT_EQ(L.frame_line(kf("tcp_close"), true), "      tcp_close [kernel]\n");
    EXPECT_EQ(L.frame_line(uf("nf_hook", "nf_conntrack"), true), "      nf_hook [nf_conntrack]\n");
    EXPECT_EQ(L.frame_line(uf("", ""), false), "      [unknown]\n");
}

TEST(TextLayout, FrameLineShortensTheModuleBeforeTheFunction) {
    const std::string module = "/opt/" + std::string(100, 'm') + "/lib.so";
    const std::string line = L.frame_line(uf("handle_request", module), false);
    // From the left: the file's name survives, and as much of its directory as fits.
    EXPECT_EQ(line.rfind("      handle_request (…mmm", 0), 0u) << line;
    EXPECT_NE(line.find("mmm/lib.so)\n"), std::string::npos) << line;
    EXPECT_EQ(width(line), 81u) << line;  // 80 columns and the newline
}

TEST(TextLayout, StackBlockCountsTheFramesLeftOut) {
    EXPECT_EQ(L.stack_block("user stack:", {}, false), "    user stack: not captured\n");
    const std::vector<Frame> frames = {kf("a"), kf("b"), kf("c")};
    EXPECT_EQ(L.stack_block("kernel stack:", frames, true, 2),
              "    kernel stack:\n      a [kernel]\n      b [kernel]\n      ... 1 more frame\n");
    EXPECT_EQ(L.stack_block("kernel stack:", frames, true),
              "    kernel stack:\n      a [kernel]\n      b [kernel]\n      c [kernel]\n");
}

// The late-closes sections write a frame exactly as the main report does: source position and
// a long module shortened the same way.
TEST(TextLayout, LateClosesFramesReadLikeTheMainReport) {
    const std::string module = "/opt/" + std::string(80, 'c') + "/bin/crawler";
    const Frame open = with_source(uf("open_connection", module), "/src/crawler/net.c", 88);
    const Origin opening =
        fixtures::connect_origin(3100, "crawler", {uf("connect", fixtures::kLibc), open});
    Report r = fixtures::base_report(1);
    r.sockets = {
        fixtures::sock4("127.0.0.1", 40100, "127.0.0.1", 8080, 40, 3100, "crawler", opening)};
    LateCloseGroup late;
    late.opening = opening;
    late.closing.kind = CloseKind::Close;
    late.count = 1;
    r.late_closes = {late};

    const std::string text = render_text(r);
    const std::string line = L.frame_line(open, false);
    EXPECT_NE(line.find(", net.c:88)"), std::string::npos) << line;
    const size_t main_report = text.find(line), late_closes = text.find("Late closes");
    ASSERT_NE(main_report, std::string::npos) << text;
    ASSERT_NE(late_closes, std::string::npos) << text;
    EXPECT_LT(main_report, late_closes) << text;
    EXPECT_NE(text.find(line, late_closes), std::string::npos) << text;
}

}  // namespace
}  // namespace cwtrace
