// The SVG flame graph in a real browser: headless Chromium (Debian's chromium package) loads
// each fixed report's SVG from a file, offline, and its script writes what it did into the root
// element (data-frames, data-shown, data-matched, data-zoom, and data-js-error on any error),
// which --dump-dom prints. The expected numbers are computed here from the report itself.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "render/render.h"
#include "report_fixtures.h"

namespace cwtrace {
namespace {

using namespace fixtures;
namespace fs = std::filesystem;

std::string chromium() {
    const char* env = std::getenv("CWTRACE_CHROMIUM");
    return env ? env : "/usr/bin/chromium";
}

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// name="value" pairs of the first <svg ...> tag of a DOM dump (Chromium writes them so).
std::map<std::string, std::string> root_attributes(const std::string& dom) {
    std::map<std::string, std::string> attrs;
    const size_t start = dom.find("<svg");
    const size_t end = dom.find('>', start);
    if (start == std::string::npos || end == std::string::npos) return attrs;
    const std::string tag = dom.substr(start, end - start);
    for (size_t eq = tag.find("=\""); eq != std::string::npos; eq = tag.find("=\"", eq + 1)) {
        const size_t name_start = tag.rfind(' ', eq) + 1;
        const size_t value_end = tag.find('"', eq + 2);
        if (value_end == std::string::npos) break;
        attrs[tag.substr(name_start, eq - name_start)] = tag.substr(eq + 2, value_end - eq - 2);
        eq = value_end;
    }
    return attrs;
}

// What the browser made of the page.
struct Page {
    std::map<std::string, std::string> root;  // attributes of the <svg> element
    std::string console;                      // console messages Chromium logged
};

class Browser : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_EQ(access(chromium().c_str(), X_OK), 0)
            << chromium() << " not found: install Debian's chromium (scripts/install-deps)";
        char dir[] = "/tmp/cwtrace-browser-XXXXXX";
        ASSERT_NE(mkdtemp(dir), nullptr);
        dir_ = dir;
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    // Loads the SVG of `report` with `fragment` (e.g. "#search=x") and dumps the DOM.
    Page load(const Report& report, const std::string& fragment = "") {
        const fs::path svg = dir_ / "flame.svg", err = dir_ / "stderr.txt";
        std::ofstream(svg, std::ios::binary) << render_svg(report, {"test-host"});
        // The flags keep Chromium from reaching for the network, which is closed here.
        const std::string cmd =
            "timeout 90 " + shell_quote(chromium()) +
            " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
            " --disable-background-networking --disable-component-update --disable-sync"
            " --enable-logging=stderr --v=0 --user-data-dir=" +
            shell_quote((dir_ / "profile").string()) + " --dump-dom " +
            shell_quote("file://" + svg.string() + fragment) + " 2>" + shell_quote(err.string());
        std::string dom;
        FILE* p = popen(cmd.c_str(), "r");
        if (!p) {
            ADD_FAILURE() << "cannot run " << cmd;
            return {};
        }
        std::array<char, 65536> buf;
        for (size_t n; (n = std::fread(buf.data(), 1, buf.size(), p)) > 0;)
            dom.append(buf.data(), n);
        const int status = pclose(p);
        EXPECT_EQ(status, 0) << cmd << "\n" << read_file(err);
        Page page;
        page.root = root_attributes(dom);
        EXPECT_FALSE(page.root.empty()) << "no <svg> in the dump: " << dom.substr(0, 500) << "\n"
                                        << read_file(err);
        std::istringstream log(read_file(err));
        for (std::string line; std::getline(log, line);)
            if (line.find(":CONSOLE") != std::string::npos) page.console += line + "\n";
        return page;
    }

    fs::path dir_;
};

// A socket's path as the flame graph draws it (flame.h): the opener's comm (the owner's when the
// opener is unknown), user frames outermost first, then kernel frames; placeholders where a
// stack is missing.
std::vector<std::string> path_of(const SocketEntry& s) {
    const Origin& o = s.origin;
    const bool unknown = o.kind == OriginKind::Unknown;
    std::vector<std::string> path{o.comm ? *o.comm : unknown && s.comm ? *s.comm : "[unknown]"};
    if (unknown && o.user_stack.empty() && o.kernel_stack.empty()) {
        path.push_back("[origin unknown]");
        return path;
    }
    if (o.user_stack.empty()) path.push_back("[missing user stack]");
    for (auto f = o.user_stack.rbegin(); f != o.user_stack.rend(); ++f)
        path.push_back(f->function.empty() ? "[unknown]" : f->function);
    if (o.kernel_stack.empty()) path.push_back("[missing kernel stack]");
    for (auto f = o.kernel_stack.rbegin(); f != o.kernel_stack.rend(); ++f)
        path.push_back(f->function + " [kernel]");
    return path;
}

// Frames drawn: one per distinct path prefix, plus the root ("all").
size_t expected_frames(const Report& r, const std::string& under_comm = "") {
    std::set<std::vector<std::string>> prefixes;
    for (const auto& s : r.sockets) {
        const auto path = path_of(s);
        if (!under_comm.empty() && path.front() != under_comm) continue;
        for (size_t n = 1; n <= path.size(); ++n)
            prefixes.emplace(path.begin(), path.begin() + static_cast<long>(n));
    }
    return prefixes.empty() ? 0 : prefixes.size() + 1;
}

std::string attr(const Page& page, const std::string& name) {
    auto it = page.root.find(name);
    return it == page.root.end() ? "(absent)" : it->second;
}

void expect_clean(const Page& page) {
    EXPECT_EQ(page.root.count("data-js-error"), 0u) << attr(page, "data-js-error");
    EXPECT_EQ(page.console, "") << "the page logged to the console";
}

class EveryCase : public Browser, public ::testing::WithParamInterface<Case> {};

TEST_P(EveryCase, OpensWithoutErrorsAndDrawsEveryFrame) {
    const Report r = GetParam().make();
    const Page page = load(r);
    expect_clean(page);
    ASSERT_TRUE(page.root.count("data-frames")) << "the script did not finish";
    EXPECT_EQ(attr(page, "data-frames"), std::to_string(expected_frames(r)));
    EXPECT_EQ(attr(page, "data-shown"), std::to_string(expected_frames(r)));
    EXPECT_EQ(attr(page, "data-zoom"), "");
}

INSTANTIATE_TEST_SUITE_P(Cases, EveryCase, ::testing::ValuesIn(cases()), case_name);

TEST_F(Browser, SearchTotalsTheSocketsUnderMatchingFrames) {
    const Report r = big_and_tiny_report();
    size_t want = 0;
    for (const auto& s : r.sockets) {
        bool hit = false;
        for (const auto& f : s.origin->user_stack)
            hit = hit || f.function.find("handler_0") != std::string::npos;
        want += hit;
    }
    ASSERT_EQ(want, 15u);  // handler_00..09: five with 2 sockets, five with 1
    const Page page = load(r, "#search=handler_0");
    expect_clean(page);
    EXPECT_EQ(attr(page, "data-matched"), std::to_string(want));
}

TEST_F(Browser, SearchCountsNestedMatchesOnce) {
    const Report r = connect_ipv4_report();  // "connect" is in 5 of its 13 frames
    const Page page = load(r, "#search=connect");
    expect_clean(page);
    EXPECT_EQ(attr(page, "data-matched"), std::to_string(r.sockets.size()));
}

TEST_F(Browser, InvalidSearchIsSaidNotThrown) {
    const Page page = load(connect_ipv4_report(), "#search=%28");
    expect_clean(page);
    EXPECT_EQ(attr(page, "data-matched"), "invalid");
}

TEST_F(Browser, ZoomShowsTheFrameItsAncestorsAndDescendantsOnly) {
    const Report r = big_and_tiny_report();
    // f1 is the root's first child: the processes sort by name, "api-server" before "worker".
    const Page page = load(r, "#zoom=f1");
    expect_clean(page);
    EXPECT_EQ(attr(page, "data-zoom"), "f1");
    EXPECT_EQ(attr(page, "data-shown"), std::to_string(expected_frames(r, "api-server")));
    EXPECT_EQ(attr(page, "data-frames"), std::to_string(expected_frames(r)));
}

}  // namespace
}  // namespace cwtrace
