// Leaks in runtimes other than CPython, in programs run as their users run them: what cwtrace
// says when it cannot name a runtime's generated code, and what it names once the runtime
// writes its perf map. Node.js at /usr/bin/node (Debian's nodejs), Java at /usr/bin/java
// (openjdk-17-jdk-headless, the fixture compiled by its javac); skipped, saying so, where none
// is installed.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "leak_checks.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

constexpr const char* kNode = "/usr/bin/node";
constexpr const char* kJava = "/usr/bin/java";
constexpr const char* kJcmd = "/usr/bin/jcmd";
// What net.connect leaves of its caller: nothing, said under the path.
constexpr const char* kEventLoopLine =
    "    opened from the event loop: the caller had returned (net.connect defers\n"
    "      connect())\n";

size_t occurrences(const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
        ++n;
    return n;
}

// What cwtrace's text report said while a runtime's fixture (`argv`, then the peer's port and
// `count`) leaked `count` sockets to a peer that closes each at once. `ran` stays false when
// cwtrace could not start or the fixture failed (the test is skipped or failed, saying why).
struct TextLeak {
    bool ran = false;
    pid_t pid = 0;
    std::string out, err;
};

void leak_under_text_report(std::vector<std::string> argv, int count, TextLeak& leak) {
    auto cwtrace = start_cwtrace({"--min-age", "1s"});
    if (!cwtrace) return;
    Process peer({FX_PEER, "-l"});
    argv.push_back(std::to_string(announced_port(peer)));
    argv.push_back(std::to_string(count));
    Process fixture(argv);
    ASSERT_TRUE(fixture.wait_line("ready", 20s)) << fixture.err();
    std::this_thread::sleep_for(1500ms);
    ASSERT_EQ(stop(*cwtrace, SIGTERM), std::optional<int>(0)) << cwtrace->err();
    leak = {true, fixture.pid(), cwtrace->out(), cwtrace->err()};
}

// What a report says of a runtime's 3 sockets whose code went unnamed: one group that no own
// frame leads (the path as it is, `frame` in it), its owner, the runtime's `advice`, and the
// naming hint (after "comm[PID]: ") once on stderr.
void expect_unnamed_path(const TextLeak& leak, const std::string& comm, const std::string& frame,
                         const std::string& advice, const std::string& hint) {
    const std::string owner = comm + "[" + std::to_string(leak.pid) + "]";
    EXPECT_NE(leak.out.find("  3 sockets, oldest "), std::string::npos) << leak.out;
    EXPECT_NE(leak.out.find(frame), std::string::npos) << leak.out;
    EXPECT_NE(leak.out.find("    owner: " + owner), std::string::npos) << leak.out;
    EXPECT_NE(leak.out.find(advice), std::string::npos) << leak.out;
    EXPECT_EQ(occurrences(leak.err, owner + ": " + hint), 1u) << leak.err;
}

// node without flags: its JavaScript is code in anonymous memory and the interpreter's one
// trampoline, which nothing names. The report says so once, with the flags that name it, and
// the advice is written for Node.
TEST(NodeRuntime, UnnamedJavaScriptGetsOneHintAndNodesAdvice) {
    if (access(kNode, X_OK) != 0)
        GTEST_SKIP() << kNode << " is not installed (apt-get install nodejs)";
    TextLeak leak;
    leak_under_text_report({kNode, FX_NODE_LEAK}, 3, leak);
    if (!leak.ran) return;

    // Every frame is node's own (the runtime's): no own frame leads, the path stands as it is.
    expect_unnamed_path(leak, "node", "Builtins_InterpreterEntryTrampoline",
                        "socket.end()/destroy() never called",
                        "JavaScript frames are unnamed: start node with --perf-basic-prof "
                        "--interpreted-frames-native-stack");
    // node connected on process.nextTick, from the tick queue its startup drains.
    EXPECT_EQ(occurrences(leak.out, kEventLoopLine), 1u) << leak.out;
}

// The same program with both flags: node writes /tmp/perf-PID.map, the JavaScript frames of the
// opening path are named from it, and nothing is hinted.
TEST(NodeRuntime, PerfMapNamesTheJavaScriptFrames) {
    if (access(kNode, X_OK) != 0)
        GTEST_SKIP() << kNode << " is not installed (apt-get install nodejs)";
    auto cwtrace = start_cwtrace({"--min-age", "1s", "-f", "json"});
    if (!cwtrace) return;
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    Process node({kNode, "--perf-basic-prof", "--interpreted-frames-native-stack", FX_NODE_LEAK,
                  std::to_string(port), "2"});
    ASSERT_TRUE(node.wait_line("ready", 20s)) << node.err();
    std::this_thread::sleep_for(1500ms);
    const json report = stop_with_report(*cwtrace);

    const auto leaked = sockets_with_port(report, "remote", port);
    ASSERT_EQ(leaked.size(), 2u) << report.dump(2);
    const std::string perf_map = "/tmp/perf-" + std::to_string(node.pid()) + ".map";
    for (const auto& s : leaked) {
        size_t named = 0;
        for (const auto& f : s.at("origin").at("user_stack"))
            if (f.value("module", "") == perf_map) ++named;
        EXPECT_GT(named, 0u) << s.at("origin").dump(2);
        // Named now: processTicksAndRejections ran node:net's connect, no function of the user's.
        EXPECT_EQ(s.at("origin").value("event_loop", false), true) << s.at("origin").dump(2);
    }
    EXPECT_EQ(cwtrace->err().find("JavaScript frames are unnamed"), std::string::npos)
        << cwtrace->err();
    EXPECT_EQ(cwtrace->err().find("JavaScript functions the interpreter ran"), std::string::npos)
        << cwtrace->err();
}

// ---------------------------------------------------------------- Java

// The Java fixture's classes, or why the test cannot run.
std::optional<std::string> java_missing() {
    if (access(kJava, X_OK) != 0)
        return std::string(kJava) + " is not installed (apt-get install openjdk-17-jdk-headless)";
    if (std::string(FX_JAVA_CLASSES).empty())
        return std::string(
            "javac was missing at build time: LeakyJava is not compiled "
            "(apt-get install openjdk-17-jdk-headless)");
    return std::nullopt;
}

// java without flags: its compiled methods are code in anonymous memory, and its interpreted
// ones run in the interpreter's, which nothing names. The report says so once, with the flags
// and the command that name them, and the advice is written for Java.
TEST(JavaRuntime, UnnamedMethodsGetOneHintAndJavasAdvice) {
    if (auto missing = java_missing()) GTEST_SKIP() << *missing;
    TextLeak leak;
    leak_under_text_report({kJava, "-cp", FX_JAVA_CLASSES, "LeakyJava"}, 3, leak);
    if (!leak.ran) return;

    // libnio's and libjvm's frames and unnamed code: none is the user's.
    expect_unnamed_path(
        leak, "java", "Java_sun_nio_ch_Net_connect0",
        "close() never called: a Socket or stream outside try-with-resources",
        "Java frames are unnamed: run java with -XX:+PreserveFramePointer and "
        "write its perf map (jcmd PID Compiler.perfmap, or -XX:+DumpPerfMapAtExit)");
    EXPECT_EQ(leak.out.find("opened from the event loop"), std::string::npos) << leak.out;
}

// The same program as the hint says: frame pointers kept, its methods compiled at once (-Xcomp;
// C1 only, which compiles quickly), and its perf map written after the sockets opened. The
// opening path names the user's method as Java's stack traces do, and it leads: the JDK's
// methods (java.net, sun.nio.ch) and HotSpot's stubs are the runtime's.
TEST(JavaRuntime, PerfMapNamesTheUsersMethodFirst) {
    if (auto missing = java_missing()) GTEST_SKIP() << *missing;
    if (access(kJcmd, X_OK) != 0) GTEST_SKIP() << kJcmd << " is not installed";
    auto cwtrace = start_cwtrace({"--min-age", "1s", "-f", "json"});
    if (!cwtrace) return;
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    Process java({kJava, "-XX:+PreserveFramePointer", "-Xcomp", "-XX:TieredStopAtLevel=1", "-cp",
                  FX_JAVA_CLASSES, "LeakyJava", std::to_string(port), "3"});
    ASSERT_TRUE(java.wait_line("ready", 20s)) << java.err();
    const std::string perf_map = "/tmp/perf-" + std::to_string(java.pid()) + ".map";
    Process jcmd({kJcmd, std::to_string(java.pid()), "Compiler.perfmap"});
    EXPECT_EQ(jcmd.wait(20s), std::optional<int>(0)) << jcmd.out() << jcmd.err();
    std::this_thread::sleep_for(1000ms);
    const json report = stop_with_report(*cwtrace);
    ::unlink(perf_map.c_str());

    const auto leaked = sockets_with_port(report, "remote", port);
    ASSERT_EQ(leaked.size(), 3u) << report.dump(2);
    for (const auto& s : leaked) {
        EXPECT_EQ(s.at("pid"), java.pid());
        const json& origin = s.at("origin");
        EXPECT_TRUE(own_frame_is(origin, "LeakyJava.openConnection"));
        EXPECT_EQ(origin.at("own").at("module"), perf_map) << origin.dump(2);
        EXPECT_FALSE(origin.contains("event_loop")) << origin.dump(2);
    }
    EXPECT_EQ(cwtrace->err().find("Java frames are unnamed"), std::string::npos) << cwtrace->err();
    EXPECT_EQ(cwtrace->err().find("Java methods the interpreter ran"), std::string::npos)
        << cwtrace->err();
}

}  // namespace
