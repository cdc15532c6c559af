// The first own frame of opening paths as live reports show them (the Python crawler's from a
// requests leak, the fixtures' native chains), and of the runtimes' shapes.
#include <gtest/gtest.h>

#include "report/own_frame.h"

namespace cwtrace {
namespace {

Frame py(std::string function, std::string path, int line) {
    Frame f{std::move(function), path};
    f.file = std::move(path);
    f.line = line;
    return f;
}

constexpr const char* kLibc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
constexpr const char* kPython = "/usr/bin/python3.11";

// A requests crawler without a shared Session, as cwtrace reports it (innermost first).
std::vector<Frame> crawler_stack() {
    return {
        {"connect", kLibc},
        {"[unknown]", kPython},
        {"sock_connect_impl", kPython},
        {"PyObject_Vectorcall", kPython},
        py("create_connection", "/usr/lib/python3/dist-packages/urllib3/util/connection.py", 86),
        py("HTTPConnection._new_conn", "/usr/lib/python3/dist-packages/urllib3/connection.py", 174),
        py("HTTPConnection.connect", "/usr/lib/python3/dist-packages/urllib3/connection.py", 358),
        py("HTTPConnection.request", "/usr/lib/python3.11/http/client.py", 1283),
        py("HTTPConnectionPool.urlopen", "/usr/lib/python3/dist-packages/urllib3/connectionpool.py",
           703),
        py("HTTPAdapter.send", "/usr/lib/python3/dist-packages/requests/adapters.py", 486),
        py("Session.request", "/usr/lib/python3/dist-packages/requests/sessions.py", 589),
        py("get", "/usr/lib/python3/dist-packages/requests/api.py", 73),
        py("session_per_call", "/srv/crawler/crawler.py", 69),
        py("worker", "/srv/crawler/crawler.py", 91),
        py("Thread.run", "/usr/lib/python3.11/threading.py", 975),
        {"start_thread", kLibc},
    };
}

TEST(OwnFrame, PythonCrawlerIsItsOwnLineNotRequests) {
    const std::vector<Frame> stack = crawler_stack();
    const auto own = OwnCode{}.first_own(stack);
    ASSERT_TRUE(own.has_value());
    EXPECT_EQ(stack[*own].function, "session_per_call");
    EXPECT_EQ(stack[*own].line, 69);
}

TEST(OwnFrame, VenvAndPyenvLibrariesAreNotTheUsers) {
    const std::vector<Frame> stack = {
        py("create_connection", "/root/.pyenv/versions/3.11.4/lib/python3.11/socket.py", 836),
        py("send", "/home/u/venv/lib/python3.11/site-packages/httpx/_client.py", 901),
        py("<frozen>", "<frozen importlib._bootstrap>", 241),
        py("fetch", "app/fetch.py", 12),
    };
    const auto own = OwnCode{}.first_own(stack);
    ASSERT_TRUE(own.has_value());
    EXPECT_EQ(*own, 3u);
}

TEST(OwnFrame, NativeProgramIsItsExecutablesFirstFrame) {
    // The leaky_client fixture's chain: libc's connect, then the program.
    const std::vector<Frame> stack = {
        {"connect", kLibc},
        {"open_connection", "/work/build/tests/fixtures/leaky_client"},
        {"main", "/work/build/tests/fixtures/leaky_client"},
        {"__libc_start_call_main", kLibc},
    };
    EXPECT_EQ(OwnCode{}.first_own(stack), 1u);
}

TEST(OwnFrame, SharedLibrariesVdsoAndInterpretersAreNotTheUsers) {
    const std::vector<Frame> stack = {
        {"connect", kLibc},
        {"curl_easy_perform", "/usr/lib/x86_64-linux-gnu/libcurl.so.4.8.0"},
        {"__vdso_clock_gettime", "[vdso]"},
        {"main", "/usr/bin/node"},
        {"main", "/usr/bin/php8.2"},
        {"do_fetch", "/opt/app/bin/fetcher"},
    };
    EXPECT_EQ(OwnCode{}.first_own(stack), 5u);
}

TEST(OwnFrame, PlaceholdersAreNobodysAndAStackOfLibrariesHasNone) {
    EXPECT_EQ(OwnCode{}.first_own({}), std::nullopt);
    EXPECT_EQ(OwnCode{}.first_own({{"[python stack not captured]", ""},
                                   {"[unknown]", "/opt/app/bin/fetcher"},
                                   {"connect", kLibc}}),
              std::nullopt);
}

TEST(OwnFrame, GoMainPackageOnlyInAGoBinary) {
    const char* bin = "/usr/local/bin/server";
    const std::vector<Frame> stack = {
        {"internal/runtime/syscall.Syscall6", bin},
        {"syscall.connect", bin},
        {"net.(*netFD).connect", bin},
        {"net/http.(*Transport).dialConn", bin},
        {"github.com/acme/client.(*C).Get", bin},
        {"main.fetchAll", bin},
        {"main.main", bin},
        {"runtime.main", bin},
        {"runtime.goexit", bin},
    };
    EXPECT_EQ(OwnCode{}.first_own(stack), 5u);
    auto own = OwnCode::with_patterns({"^github\\.com/acme/"});
    ASSERT_TRUE(own);
    EXPECT_EQ(own->first_own(stack), 4u);
}

TEST(OwnFrame, NodeAppFilesNotNodeInternalsOrNodeModules) {
    const char* map = "/tmp/perf-4242.map";
    const std::vector<Frame> stack = {
        {"connect", kLibc},
        {"Builtin:CallFunction_ReceiverIsAny", map},
        {"LazyCompile:~internalConnect node:net:1045:25", map},
        {"LazyCompile:*request /app/node_modules/axios/lib/adapters/http.js:210:12", map},
        {"JS:~leak file:///app/server.mjs:14:3", map},
        {"main", "/usr/bin/node"},
    };
    EXPECT_EQ(OwnCode{}.first_own(stack), 4u);
}

TEST(OwnFrame, JavaApplicationClassesNotTheJdk) {
    const char* map = "/tmp/perf-777.map";
    const std::vector<Frame> stack = {
        {"connect", kLibc},
        {"Interpreter", map},
        {"Ljava/net/Socket;::connect", map},
        {"sun.nio.ch.NioSocketImpl::connect", map},
        {"Lcom/example/Crawler;::fetch", map},
    };
    EXPECT_EQ(OwnCode{}.first_own(stack), 4u);
}

// java -XX:+PreserveFramePointer -Xcomp with `jcmd PID Compiler.perfmap`, as the tests'
// LeakyJava shows (names as cwtrace displays them): libnio's JNI, the JDK's compiled methods,
// the user's method, then HotSpot's call stub.
TEST(OwnFrame, JavaMethodsAsDisplayedTheDefaultPackageToo) {
    const char* map = "/tmp/perf-778.map";
    const std::vector<Frame> stack = {
        {"connect", kLibc},
        {"Java_sun_nio_ch_Net_connect0", "/usr/lib/jvm/java-17-openjdk-amd64/lib/libnio.so"},
        {"sun.nio.ch.Net.connect0", map},
        {"sun.nio.ch.NioSocketImpl.connect", map},
        {"java.net.Socket.connect", map},
        {"LeakyJava.openConnection", map},
        {"LeakyJava.main", map},
        {"StubRoutines (1)", map},
    };
    EXPECT_EQ(OwnCode{}.first_own(stack), 5u);
    const std::vector<bool> own = OwnCode{}.own_frames(stack);
    EXPECT_EQ(own, (std::vector<bool>{false, false, false, false, false, true, true, false}));
    EXPECT_EQ(library_of(stack[4]), "java.net");
    // HotSpot's code that is no method is the runtime's wherever it shows.
    for (const char* blob : {"Interpreter", "I2C/C2I adapters", "SafepointBlob", "ic_miss_stub",
                             "new_instance Runtime1 stub"})
        EXPECT_EQ(OwnCode{}.first_own({{"connect", kLibc}, {blob, map}}), std::nullopt) << blob;
}

TEST(OwnFrame, AnotherJitsCodeIsTheUsers) {
    // The jit_client fixture's perf map names its generated code.
    EXPECT_EQ(OwnCode{}.first_own({{"connect", kLibc}, {"jit_open_connection", "/tmp/perf-9.map"}}),
              1u);
}

TEST(OwnFrame, PatternsMakeMoreFramesTheUsers) {
    auto own = OwnCode::with_patterns({"requests/"});
    ASSERT_TRUE(own);
    const std::vector<Frame> stack = crawler_stack();
    const auto i = own->first_own(stack);
    ASSERT_TRUE(i.has_value());
    EXPECT_EQ(stack[*i].function, "HTTPAdapter.send");
}

TEST(OwnFrame, AnInvalidPatternIsAnErrorNamingIt) {
    auto own = OwnCode::with_patterns({"ok", "(unclosed"});
    ASSERT_FALSE(own);
    EXPECT_NE(own.error().message.find("(unclosed"), std::string::npos);
}

TEST(LibraryOf, NamesWhatAFoldedRunOfFramesIsIn) {
    const std::vector<Frame> stack = crawler_stack();
    EXPECT_EQ(library_of(stack[0]), "libc");
    EXPECT_EQ(library_of(stack[2]), "python3.11");
    EXPECT_EQ(library_of(stack[4]), "urllib3");
    EXPECT_EQ(library_of(stack[7]), "http.client");
    EXPECT_EQ(library_of(stack[9]), "requests");
    EXPECT_EQ(library_of(stack[14]), "threading");
    EXPECT_EQ(library_of(py("f", "/usr/lib/python3.11/json/__init__.py", 1)), "json");
    EXPECT_EQ(library_of({"net/http.(*Transport).dialConn", "/usr/local/bin/server"}), "net/http");
    EXPECT_EQ(library_of({"LazyCompile:~internalConnect node:net:1045:25", "/tmp/perf-1.map"}),
              "node:net");
    EXPECT_EQ(library_of({"JS:~f /app/node_modules/@scope/pkg/index.js:1:1", "/tmp/perf-1.map"}),
              "@scope/pkg");
    EXPECT_EQ(library_of({"Ljava/net/Socket;::connect", "/tmp/perf-1.map"}), "java.net");
    EXPECT_EQ(library_of({"[unknown]", kLibc}), "");
}

}  // namespace
}  // namespace cwtrace
