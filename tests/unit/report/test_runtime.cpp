// The runtime behind an opening path, read from frames as real reports hold them, and the advice
// written in its words.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "report/runtime.h"

namespace cwtrace {
namespace {

Origin path(std::vector<Frame> frames, std::optional<std::string> comm = std::nullopt) {
    Origin o;
    o.kind = OriginKind::Connect;
    o.user_stack = std::move(frames);
    o.comm = std::move(comm);
    return o;
}

const std::string kLibc = "/usr/lib/x86_64-linux-gnu/libc.so.6";

TEST(Runtime, ReadFromTheFramesOfEachRuntime) {
    // A requests crawler under Debian's python3.11 (the interpreter's frames unnamed).
    EXPECT_EQ(runtime_of(path({{"connect", kLibc},
                               {"[unknown]", "/usr/bin/python3.11"},
                               {"create_connection", "/usr/lib/python3.11/socket.py"}})),
              Runtime::Python);
    // Go's net/http dialling in its own goroutine (the main executable holds the runtime).
    EXPECT_EQ(runtime_of(path({{"internal/poll.(*FD).Init", "/srv/fetcher"},
                               {"net/http.(*Transport).dialConn", "/srv/fetcher"},
                               {"runtime.goexit", "/srv/fetcher"}})),
              Runtime::Go);
    // Debian's node: a small executable around libnode.
    EXPECT_EQ(runtime_of(path({{"connect", kLibc},
                               {"uv__tcp_connect", "/usr/lib/x86_64-linux-gnu/libnode.so.108"}})),
              Runtime::Node);
    EXPECT_EQ(runtime_of(path({{"connect", kLibc},
                               {"Builtins_InterpreterEntryTrampoline", "/tmp/perf-4242.map"}})),
              Runtime::Node);
    EXPECT_EQ(runtime_of(path({{"connect", kLibc},
                               {"[unknown]", "/usr/lib/jvm/java-17/lib/server/libjvm.so"}})),
              Runtime::Java);
}

TEST(Runtime, NativeProgramsAndEmptyPathsAreNoRuntime) {
    EXPECT_EQ(runtime_of(path({{"connect", kLibc},
                               {"open_connection", "/opt/leaky/bin/leaky_client"},
                               {"main", "/opt/leaky/bin/leaky_client"}})),
              Runtime::Unknown);
    EXPECT_EQ(runtime_of(path({})), Runtime::Unknown);
    // A program named like a runtime's function is not one: "runtime" without Go's dot.
    EXPECT_EQ(runtime_of(path({{"runtime_init", "/opt/app"}})), Runtime::Unknown);
}

TEST(Runtime, TheProcessNameWhenTheFramesTellNothing) {
    EXPECT_EQ(runtime_of(path({}), std::string("python3")), Runtime::Python);
    EXPECT_EQ(runtime_of(path({}, std::string("node"))), Runtime::Node);
    EXPECT_EQ(runtime_of(path({{"[unknown]", ""}}), std::string("java")), Runtime::Java);
    EXPECT_EQ(runtime_of(path({}), std::string("nginx")), Runtime::Unknown);
    // The opener's own name before the owner's.
    EXPECT_EQ(runtime_of(path({}, std::string("java")), std::string("python3")), Runtime::Java);
}

// node's stacks at connect() for `net.connect({host: '127.0.0.1'})` in the main script, as the
// tests' leaky_node.js gives them: connect() ran on process.nextTick, from the tick queue node
// drains as the main script's callback scope closes.
const std::string kNodeExe = "/usr/bin/node";
std::vector<Frame> node_tick(std::vector<Frame> js) {
    std::vector<Frame> stack = {
        {"connect", kLibc},
        {"uv__tcp_connect", kNodeExe},
        {"node::TCPWrap::Connect(v8::FunctionCallbackInfo<v8::Value> const&)", kNodeExe},
        {"Builtins_CEntry_Return1_ArgvOnStack_BuiltinExit", kNodeExe}};
    stack.insert(stack.end(), js.begin(), js.end());
    for (const char* f :
         {"Builtins_JSEntryTrampoline", "Builtins_JSEntry", "node::InternalCallbackScope::Close()",
          "node::InternalCallbackScope::~InternalCallbackScope()", "node::NodeMainInstance::Run()",
          "_start"})
        stack.emplace_back(f, kNodeExe);
    return stack;
}

TEST(Runtime, NodePathsFromTheEventLoopAreSaidSo) {
    // Unflagged: the JavaScript is V8's trampolines, the tick queue's native caller tells.
    const Frame trampoline{"Builtins_InterpreterEntryTrampoline", kNodeExe};
    EXPECT_TRUE(opened_from_event_loop(path(node_tick({trampoline, trampoline}))));
    // Named from the perf map: node:net's functions under processTicksAndRejections.
    const std::string map = "/tmp/perf-4242.map";
    Origin named = path(node_tick({{"JS:~internalConnect node:net:1038:25", map},
                                   {"JS:~ node:net:1326:73", map},
                                   {"JS:*processTicksAndRejections "
                                    "node:internal/process/task_queues:67:35",
                                    map}}));
    named.user_stack.erase(named.user_stack.end() - 4);  // Close(): the JavaScript frame alone
    EXPECT_TRUE(opened_from_event_loop(named));
    // A frame of the user's inside the loop's turn: the caller is there, nothing to say.
    Origin own = path(node_tick({{"JS:~leak /srv/app.js:3:1", map}}));
    own.own_frame = 4;
    EXPECT_FALSE(opened_from_event_loop(own));
    own.own_frame = 9;  // outside the loop's frame: it only started the loop
    EXPECT_TRUE(opened_from_event_loop(own));
    // connect() from the main script itself, no callback scope closing: not the loop.
    EXPECT_FALSE(
        opened_from_event_loop(path({{"connect", kLibc},
                                     {"uv__tcp_connect", kNodeExe},
                                     trampoline,
                                     {"node::StartExecution(node::Environment*)", kNodeExe}})));
    // Not node: a frame of the same name in another program says nothing.
    EXPECT_FALSE(
        opened_from_event_loop(path({{"connect", kLibc}, {"uv_run", "/usr/lib/libuv.so.1"}})));
}

TEST(Runtime, AdviceInTheWordsOfTheRuntime) {
    const auto unread = [](Runtime r) {
        return std::string(likely_cause(Diagnosis::UnreadData, r));
    };
    const auto unclosed = [](Runtime r) {
        return std::string(likely_cause(Diagnosis::EofReadNotClosed, r));
    };
    EXPECT_NE(unread(Runtime::Go).find("resp.Body.Close()"), std::string::npos);
    EXPECT_NE(unread(Runtime::Python).find("with"), std::string::npos);
    EXPECT_NE(unclosed(Runtime::Node).find("socket.end()"), std::string::npos);
    EXPECT_NE(unclosed(Runtime::Java).find("try-with-resources"), std::string::npos);
    // An unread response holds its connection: it is not called an idle pooled one.
    for (Runtime r :
         {Runtime::Unknown, Runtime::Python, Runtime::Go, Runtime::Node, Runtime::Java}) {
        EXPECT_EQ(unread(r).find("idle"), std::string::npos) << to_string(r);
        // No runtime's advice names another's idiom.
        if (r != Runtime::Go) {
            EXPECT_EQ(unclosed(r).find("defer"), std::string::npos) << to_string(r);
        }
        if (r != Runtime::Python) {
            EXPECT_EQ(unclosed(r).find("`with`"), std::string::npos) << to_string(r);
        }
    }
}

}  // namespace
}  // namespace cwtrace
