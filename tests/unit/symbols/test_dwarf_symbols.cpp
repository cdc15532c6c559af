// Symbols beyond .symtab: demangling, perf maps of JIT code, DWARF file:line, and
// functions of a stripped binary from its separate debug file found by build-id.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "render/render.h"
#include "report/report_reader.h"
#include "symbols/debug_info.h"
#include "symbols/demangle.h"
#include "symbols/perf_map.h"

#ifndef CWTRACE_SYMBOLIZE_FIXTURE
#error "CWTRACE_SYMBOLIZE_FIXTURE must name the built symbolize_fixture binary"
#endif
#ifndef CWTRACE_SYMBOLIZE_FIXTURE_SOURCE
#error "CWTRACE_SYMBOLIZE_FIXTURE_SOURCE must name symbolize_fixture.c"
#endif

namespace cwtrace {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------- demangling

TEST(DemangleTest, CppNamesReadAsSource) {
    EXPECT_EQ(demangle("_ZN2cw7fixture7mangledEi"), "cw::fixture::mangled(int)");
    EXPECT_EQ(demangle("_ZNSt6vectorIiSaIiEE9push_backERKi"),
              "std::vector<int, std::allocator<int> >::push_back(int const&)");
}

TEST(DemangleTest, OtherNamesUnchanged) {
    EXPECT_EQ(demangle("connect"), "connect");
    EXPECT_EQ(demangle("_Zgarbage"), "_Zgarbage");  // not a valid mangling: kept as is
    EXPECT_EQ(demangle(""), "");
}

// ---------------------------------------------------------------- perf maps

TEST(PerfMapTest, ParsesLinesAndLooksUpWithinEachRange) {
    PerfMap map = *PerfMap::parse(
        "7f0000001000 40 LazyCompile:*fetchPage /srv/app/crawler.js:12\n"
        "7f0000002000 0x100 py::fetch_page:/srv/crawler.py\n"
        "0x7f0000003000 10 stub\n");
    EXPECT_EQ(map.size(), 3u);
    EXPECT_EQ(map.lookup(0x7f0000001000), "LazyCompile:*fetchPage /srv/app/crawler.js:12");
    EXPECT_EQ(map.lookup(0x7f000000103f), "LazyCompile:*fetchPage /srv/app/crawler.js:12");
    EXPECT_EQ(map.lookup(0x7f0000001040), std::nullopt);  // one past the end
    EXPECT_EQ(map.lookup(0x7f00000020ff), "py::fetch_page:/srv/crawler.py");
    EXPECT_EQ(map.lookup(0x7f0000003005), "stub");
    EXPECT_EQ(map.lookup(0x7f0000000fff), std::nullopt);
}

TEST(PerfMapTest, LaterEntryWinsWhereCodeMemoryWasReused) {
    PerfMap map = *PerfMap::parse(
        "1000 100 old_function\n"
        "1080 10 new_function\n");
    EXPECT_EQ(map.lookup(0x1000), "old_function");
    EXPECT_EQ(map.lookup(0x1084), "new_function");
    EXPECT_EQ(map.lookup(0x1090), "old_function");
}

TEST(PerfMapTest, SkipsMalformedLines) {
    PerfMap map = *PerfMap::parse(
        "\n"
        "zzzz 10 bad_start\n"
        "1000 bad_size\n"
        "2000 0 empty_range\n"
        "3000 10\n"
        "4000 10 good\r\n");
    EXPECT_EQ(map.size(), 1u);
    EXPECT_EQ(map.lookup(0x4001), "good");
}

TEST(PerfMapTest, JavaMethodsReadAsInJavasStackTraces) {
    // As `jcmd PID Compiler.perfmap` (JDK 17) writes them.
    EXPECT_EQ(display_name("java.net.Socket LeakyJava.openConnection(int)"),
              "LeakyJava.openConnection");
    EXPECT_EQ(display_name("void sun.nio.ch.NioSocketImpl.connect(java.net.SocketAddress, int)"),
              "sun.nio.ch.NioSocketImpl.connect");
    EXPECT_EQ(display_name("byte[] a.B$Inner.<init>()"), "a.B$Inner.<init>");
    // As perf-map-agent writes them, a signature or not.
    EXPECT_EQ(display_name("Ljava/net/Socket;::connect"), "java.net.Socket.connect");
    EXPECT_EQ(display_name("Lcom/example/Crawler;::fetch(I)V"), "com.example.Crawler.fetch");
    // HotSpot's stubs, V8's and Python's names, and what only looks like a method: as written.
    for (const char* kept :
         {"StubRoutines (1)", "I2C/C2I adapters", "Interpreter", "new_instance Runtime1 stub",
          "JS:~internalConnect node:net:1038:25", "py::fetch_page:/srv/crawler.py",
          "void noclass(int)", "void a.b(int", "void  a.b()", " a.b()", "L;::", "L/;::x",
          "Lx;::m y", "int a.b c(int)", ""})
        EXPECT_EQ(display_name(kept), kept);
}

TEST(PerfMapTest, LoadsAWrittenMapFileAndMissingIsNullopt) {
    fs::path path =
        fs::temp_directory_path() / ("cwtrace-perf-" + std::to_string(getpid()) + ".map");
    {
        std::ofstream out(path);
        out << "7f1234560000 20 jitted_handler\n";
    }
    auto map = PerfMap::load(path.string());
    fs::remove(path);
    ASSERT_TRUE(map);
    EXPECT_EQ(map->lookup(0x7f1234560010), "jitted_handler");
    EXPECT_FALSE(PerfMap::load(path.string()));
    EXPECT_EQ(PerfMap::path_for(1234), "/tmp/perf-1234.map");
}

// ---------------------------------------------------------------- DWARF

// Output of a shell command, or empty.
std::string command_output(const std::string& command) {
    std::string out;
    if (FILE* p = popen(command.c_str(), "r")) {
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
        pclose(p);
    }
    return out;
}

// The ELF virtual address of `symbol` in `binary`, from nm.
std::optional<uint64_t> symbol_address(const std::string& binary, const std::string& symbol) {
    std::istringstream lines(command_output("nm --defined-only '" + binary + "'"));
    std::string addr, type, name;
    while (lines >> addr >> type >> name)
        if (name == symbol) return std::stoull(addr, nullptr, 16);
    return std::nullopt;
}

// The 1-based line of the fixture source that contains `needle`.
int source_line_of(const std::string& needle) {
    std::ifstream in(CWTRACE_SYMBOLIZE_FIXTURE_SOURCE);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n)
        if (line.find(needle) != std::string::npos) return n;
    return 0;
}

TEST(DebugInfoTest, FileAndLineOfAFunctionBuiltWithDebugInfo) {
    auto addr = symbol_address(CWTRACE_SYMBOLIZE_FIXTURE, "cw_fixture_beta");
    ASSERT_TRUE(addr) << "nm found no cw_fixture_beta";
    DebugInfoCache cache;
    Frame frame{"cw_fixture_beta", CWTRACE_SYMBOLIZE_FIXTURE};
    cache.annotate(CWTRACE_SYMBOLIZE_FIXTURE, *addr, frame);
    ASSERT_TRUE(!frame.file.empty() && frame.line);
    EXPECT_EQ(fs::path(frame.file).filename(), "symbolize_fixture.c");
    EXPECT_EQ(frame.line, source_line_of("int cw_fixture_beta(int x)"));
    EXPECT_EQ(frame.function, "cw_fixture_beta");  // a name the ELF gave is kept
}

TEST(DebugInfoTest, NothingForAFileWithoutElf) {
    DebugInfoCache cache;
    Frame frame{"[unknown]", "/proc/self/status"};
    cache.annotate("/proc/self/status", 0x1000, frame);
    EXPECT_TRUE(frame.file.empty());
    EXPECT_FALSE(frame.line);
    EXPECT_EQ(frame.function, "[unknown]");
}

// A stripped binary names nothing of its own; its debug file, installed under the build-id
// path as Debian's -dbgsym packages do, gives the function and the line.
TEST(DebugInfoTest, StrippedBinaryResolvesThroughBuildIdDebugFile) {
    auto addr = symbol_address(CWTRACE_SYMBOLIZE_FIXTURE, "cw_fixture_alpha");
    ASSERT_TRUE(addr);
    auto build_id = read_build_id(CWTRACE_SYMBOLIZE_FIXTURE);
    ASSERT_TRUE(build_id && build_id->size() > 2) << "the fixture is linked with a build-id";

    fs::path dir = fs::temp_directory_path() / ("cwtrace-debug-" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::path debug_file =
        dir / "root" / ".build-id" / build_id->substr(0, 2) / (build_id->substr(2) + ".debug");
    fs::create_directories(debug_file.parent_path());
    const std::string stripped = (dir / "stripped").string();
    const std::string fixture = CWTRACE_SYMBOLIZE_FIXTURE;
    ASSERT_EQ(std::system(("objcopy --only-keep-debug '" + fixture + "' '" + debug_file.string() +
                           "' && objcopy --strip-all '" + fixture + "' '" + stripped + "'")
                              .c_str()),
              0);
    EXPECT_EQ(read_build_id(stripped), build_id);

    DebugInfoCache without_debug_files((dir / "empty").string());
    Frame bare{"[unknown]", stripped};
    without_debug_files.annotate(stripped, *addr, bare);
    EXPECT_EQ(bare.function, "[unknown]");
    EXPECT_FALSE(bare.line);

    DebugInfoCache cache((dir / "root").string());
    Frame frame{"[unknown]", stripped};
    cache.annotate(stripped, *addr, frame);
    fs::remove_all(dir);
    EXPECT_EQ(frame.function, "cw_fixture_alpha");
    ASSERT_TRUE(!frame.file.empty() && frame.line);
    EXPECT_EQ(fs::path(frame.file).filename(), "symbolize_fixture.c");
    EXPECT_EQ(frame.line, source_line_of("int cw_fixture_alpha(int x)"));
}

// ---------------------------------------------------------------- JSON

// "file" and "line" appear where debug info told them, only there, and read back.
TEST(FrameSourceJsonTest, FileAndLineOnlyWhenKnownAndReadBack) {
    Report report;
    SocketEntry s;
    Origin o;
    o.kind = OriginKind::Connect;
    o.pid = 7;
    Frame with{"fetch_page", "/srv/crawler"};
    with.file = "/src/crawler.c";
    with.line = 31;
    o.user_stack = {with, Frame{"main", "/srv/crawler"}};
    s.origin = o;
    report.sockets.push_back(s);

    const std::string json = render_json(report);
    EXPECT_NE(json.find(R"("file":"/src/crawler.c")"), std::string::npos) << json;
    EXPECT_NE(json.find(R"("line":31)"), std::string::npos) << json;
    EXPECT_EQ(json.find(R"("file")"), json.rfind(R"("file")")) << "only the frame that has one";

    auto saved = read_report(json);
    ASSERT_TRUE(saved) << saved.error().message;
    const auto& stack = saved->report.sockets.at(0).origin->user_stack;
    ASSERT_EQ(stack.size(), 2u);
    EXPECT_EQ(stack[0].file, "/src/crawler.c");
    EXPECT_EQ(stack[0].line, std::optional<int>(31));
    EXPECT_TRUE(stack[1].file.empty());
    EXPECT_FALSE(stack[1].line);
}

// The text report keeps the module of a native frame and adds the source position; a Python
// frame (its file is its module) shows the file and line alone.
TEST(FrameSourceJsonTest, TextShowsModuleAndLineOfNativeFramesFileAndLineOfPythonFrames) {
    Report report;
    report.min_age_seconds = 1;
    SocketEntry s;
    Origin o;
    o.kind = OriginKind::Connect;
    o.pid = 7;
    s.close_wait_seconds = 5;
    Frame native{"open_connection", "/srv/crawler"};
    native.file = "/src/net/crawler.c";
    native.line = 31;
    Frame python{"fetch_page", "/srv/crawler.py"};
    python.file = "/srv/crawler.py";
    python.line = 12;
    o.user_stack = {native, python, Frame{"main", "/srv/crawler"}};
    s.origin = o;
    report.sockets.push_back(s);

    const std::string text = render_text(report);
    EXPECT_NE(text.find("open_connection (/srv/crawler, crawler.c:31)"), std::string::npos) << text;
    EXPECT_NE(text.find("fetch_page (/srv/crawler.py:12)"), std::string::npos) << text;
    EXPECT_NE(text.find("main (/srv/crawler)\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace cwtrace
