// Leaks in runtimes other than CPython, in programs run as their users run them: what cwtrace
// says when it cannot name a runtime's generated code, and what it names once the runtime
// writes its perf map. Node.js at /usr/bin/node (Debian's nodejs); skipped, saying so, where
// none is installed.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "harness.h"
#include "leak_checks.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

constexpr const char* kNode = "/usr/bin/node";

size_t occurrences(const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
        ++n;
    return n;
}

// node without flags: its JavaScript is code in anonymous memory and the interpreter's one
// trampoline, which nothing names. The report says so once, with the flags that name it, and
// the advice is written for Node.
TEST(NodeRuntime, UnnamedJavaScriptGetsOneHintAndNodesAdvice) {
    if (access(kNode, X_OK) != 0)
        GTEST_SKIP() << kNode << " is not installed (apt-get install nodejs)";
    auto cwtrace = start_cwtrace({"--min-age", "1s"});
    if (!cwtrace) return;
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    Process node({kNode, FX_NODE_LEAK, std::to_string(port), "3"});
    ASSERT_TRUE(node.wait_line("ready", 20s)) << node.err();
    std::this_thread::sleep_for(1500ms);
    ASSERT_EQ(stop(*cwtrace, SIGTERM), std::optional<int>(0)) << cwtrace->err();

    const std::string& text = cwtrace->out();
    const std::string owner = "node[" + std::to_string(node.pid()) + "]";
    // Every frame is node's own (the runtime's): no own frame leads, the path stands as it is.
    EXPECT_NE(text.find("  3 sockets, oldest "), std::string::npos) << text;
    EXPECT_NE(text.find("Builtins_InterpreterEntryTrampoline"), std::string::npos) << text;
    EXPECT_NE(text.find("    owner: " + owner), std::string::npos) << text;
    EXPECT_NE(text.find("socket.end()/destroy() never called"), std::string::npos) << text;
    const std::string hint = owner +
                             ": JavaScript frames are unnamed: start node with --perf-basic-prof "
                             "--interpreted-frames-native-stack";
    EXPECT_EQ(occurrences(cwtrace->err(), hint), 1u) << cwtrace->err();
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
    }
    EXPECT_EQ(cwtrace->err().find("JavaScript frames are unnamed"), std::string::npos)
        << cwtrace->err();
    EXPECT_EQ(cwtrace->err().find("JavaScript functions the interpreter ran"), std::string::npos)
        << cwtrace->err();
}

}  // namespace
