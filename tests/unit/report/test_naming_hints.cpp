// Hints for runtimes whose generated code went unnamed, on paths shaped as node and java give
// them: said for what is missing, the flags that name it, once a process.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "report/naming_hints.h"

namespace cwtrace {
namespace {

const std::string kLibc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
const std::string kLibnode = "/usr/lib/x86_64-linux-gnu/libnode.so.108";
const std::string kJvm = "/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so";

Origin opened_by(uint32_t pid, std::string comm, std::vector<Frame> frames) {
    Origin o;
    o.kind = OriginKind::Connect;
    o.pid = pid;
    o.comm = std::move(comm);
    o.user_stack = std::move(frames);
    return o;
}

bool says(const std::optional<std::string>& hint, const std::string& part) {
    return hint && hint->find(part) != std::string::npos;
}

TEST(NamingHints, NodeWithoutAPerfMapIsToldBothFlags) {
    // node 18 with no flags: libuv's connect, then JIT code and the interpreter's trampolines.
    const auto hint = naming_hint(opened_by(4242, "node",
                                            {{"connect", kLibc},
                                             {"uv__tcp_connect", kLibnode},
                                             {"[unknown]", ""},
                                             {"Builtins_InterpreterEntryTrampoline", kLibnode}}));
    EXPECT_TRUE(says(hint, "node[4242]")) << hint.value_or("");
    EXPECT_TRUE(says(hint, "--perf-basic-prof --interpreted-frames-native-stack"))
        << hint.value_or("");
}

TEST(NamingHints, NodeWithABasicPerfMapIsToldTheMissingFlag) {
    const auto hint =
        naming_hint(opened_by(4242, "node",
                              {{"connect", kLibc},
                               {"LazyCompile:*connect node:net:1013", "/tmp/perf-4242.map"},
                               {"Builtins_InterpreterEntryTrampoline", kLibnode}}));
    EXPECT_TRUE(says(hint, "add --interpreted-frames-native-stack")) << hint.value_or("");
}

TEST(NamingHints, NodeWithEveryFrameNamedNeedsNoHint) {
    EXPECT_EQ(naming_hint(opened_by(4242, "node",
                                    {{"connect", kLibc},
                                     {"JS:*fetchPage /srv/app.js:12", "/tmp/perf-4242.map"},
                                     {"uv_run", kLibnode}})),
              std::nullopt);
}

TEST(NamingHints, JavaWithUnnamedFramesIsToldThePerfMap) {
    const auto hint = naming_hint(opened_by(
        77, "java", {{"connect", kLibc}, {"[unknown]", ""}, {"JavaCalls::call_helper", kJvm}}));
    EXPECT_TRUE(says(hint, "-XX:+PreserveFramePointer")) << hint.value_or("");
    EXPECT_TRUE(says(hint, "jcmd PID Compiler.perfmap")) << hint.value_or("");
}

TEST(NamingHints, JavaWithInterpretedMethodsIsToldOnlyCompiledOnesAreNamed) {
    // java -XX:+PreserveFramePointer, its map written by jcmd: LeakyJava's methods interpreted.
    const std::string map = "/tmp/perf-77.map";
    const auto hint = naming_hint(opened_by(77, "java",
                                            {{"connect", kLibc},
                                             {"Interpreter", map},
                                             {"Interpreter", map},
                                             {"StubRoutines (1)", map},
                                             {"JavaCalls::call_helper", kJvm}}));
    EXPECT_TRUE(says(hint, "java[77]: Java methods the interpreter ran are unnamed"))
        << hint.value_or("");
    EXPECT_TRUE(says(hint, "-Xcomp")) << hint.value_or("");
    // Every method compiled (-Xcomp): named, nothing to say.
    EXPECT_EQ(naming_hint(opened_by(77, "java",
                                    {{"connect", kLibc},
                                     {"LeakyJava.openConnection", map},
                                     {"StubRoutines (1)", map},
                                     {"JavaCalls::call_helper", kJvm}})),
              std::nullopt);
}

TEST(NamingHints, OtherRuntimesAndNamedPathsGetNone) {
    // A native program calling JIT code it names itself (tests/fixtures/jit_client.c).
    EXPECT_EQ(naming_hint(opened_by(9, "jit_client",
                                    {{"connect", kLibc},
                                     {"open_connection", "/opt/jit_client"},
                                     {"LazyCompile:*fetchPage", "/tmp/perf-9.map"}})),
              std::nullopt);
    // CPython's frames come from its own structures, whatever the native ones say.
    EXPECT_EQ(naming_hint(opened_by(10, "python3",
                                    {{"connect", kLibc},
                                     {"[unknown]", "/usr/bin/python3.11"},
                                     {"fetch_page", "/srv/crawler.py"}})),
              std::nullopt);
}

Frame go_frame(std::string function, uint8_t creator = 0) {
    Frame f{std::move(function), "/srv/app"};
    f.creator = creator;
    return f;
}

// net/http's dialling goroutine with only its creator's go statement: the user's goroutine is
// what GODEBUG=tracebackancestors would show.
TEST(NamingHints, GoDialledByTheTransportIsToldTracebackAncestors) {
    const std::vector<Frame> dialling = {go_frame("runtime/internal/syscall.Syscall6"),
                                         go_frame("net/http.(*Transport).dialConn"),
                                         go_frame("runtime.goexit.abi0")};
    auto frames = dialling;
    frames.push_back(go_frame("net/http.(*Transport).queueForDial", 1));
    EXPECT_EQ(naming_hint(opened_by(77, "app", frames)),
              "app[77]: the connection was dialled in a goroutine net/http started; run the "
              "program with GODEBUG=tracebackancestors=5 to see the goroutine that asked for it");
    // The creator's stack recorded, or no creator at all, or the user's own code found: none.
    auto with_stack = frames;
    with_stack.push_back(go_frame("net/http.Get", 1));
    EXPECT_EQ(naming_hint(opened_by(77, "app", with_stack)), std::nullopt);
    EXPECT_EQ(naming_hint(opened_by(77, "app", dialling)), std::nullopt);
    Origin own = opened_by(77, "app", frames);
    own.own_frame = 0;
    EXPECT_EQ(naming_hint(own), std::nullopt);
}

TEST(NamingHints, OncePerProcessAndTheRememberedSetIsBounded) {
    NamingHints hints;
    const auto node = [](uint32_t pid) {
        return opened_by(pid, "node", {{"connect", kLibc}, {"[unknown]", ""}});
    };
    EXPECT_TRUE(hints.first_for(node(1)));
    EXPECT_FALSE(hints.first_for(node(1)));
    EXPECT_TRUE(hints.first_for(node(2)));
    for (uint32_t pid = 3; pid < 3 + NamingHints::kMaxProcesses; ++pid) hints.first_for(node(pid));
    // Past the bound the set starts again: process 1 is told once more, never an unbounded set.
    EXPECT_TRUE(hints.first_for(node(1)));
}

}  // namespace
}  // namespace cwtrace
