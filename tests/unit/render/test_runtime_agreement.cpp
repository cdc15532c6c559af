// The three readers of a runtime's frames agree on every frame: the runtime an opening path is
// said to run on (report/runtime, its advice), whether the frame can be the user's own code
// (report/own_frame) and whether a flame graph colours it as a runtime's (render/flame). Each
// once kept its own list of runtimes; they read one table now (report/runtime_frames).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "render/flame.h"
#include "report/own_frame.h"
#include "report/runtime.h"
#include "report_fixtures.h"

namespace cwtrace {
namespace {

using namespace fixtures;

struct Case {
    Frame frame;
    Runtime runtime;   // what runtime_of() says of a path of this frame alone
    bool runtimes;     // the runtime's own code (its program, shared object, machinery)
    bool interpreter;  // coloured as a runtime's in a flame graph
};

const char* kBin = "/srv/fetcher";  // a Go service
const char* kMap = "/tmp/perf-4242.map";
const std::string kLib = "/usr/lib/x86_64-linux-gnu/";
const std::string kJvm = "/usr/lib/jvm/java-17-openjdk-amd64/";

std::vector<Case> cases() {
    return {
        {{"PyObject_Vectorcall", "/usr/bin/python3.11"}, Runtime::Python, true, true},
        {{"_PyEval_EvalFrameDefault", kLib + "libpython3.11.so.1.0"}, Runtime::Python, true, true},
        {{"pypy_g_main", "/opt/pypy3.9/bin/pypy3.9"}, Runtime::Python, true, true},
        {{"fetch_page", "/srv/crawler.py"}, Runtime::Python, false, true},
        {{"uv__tcp_connect", "/usr/bin/node"}, Runtime::Node, true, true},
        {{"uv_run", kLib + "libnode.so.108"}, Runtime::Node, true, true},
        {{"Builtins_JSEntryTrampoline", kMap}, Runtime::Node, true, true},
        {{"JS:~internalConnect node:net:1038:25", kMap}, Runtime::Node, false, false},
        {{"JavaMain", kJvm + "bin/java"}, Runtime::Java, true, true},
        {{"JVM_Connect", kJvm + "lib/server/libjvm.so"}, Runtime::Java, true, true},
        {{"java.net.Socket.connect", "/tmp/perf-777.map"}, Runtime::Java, false, false},
        {{"php_execute_script", "/usr/sbin/php-fpm8.2"}, Runtime::Unknown, true, true},
        {{"runtime.goexit", kBin}, Runtime::Go, true, true},
        {{"net/http.(*Transport).dialConn", kBin}, Runtime::Go, false, false},
        // No runtime's, however their names start.
        {{"do_fetch", "/opt/app/bin/fetcher"}, Runtime::Unknown, false, false},
        {{"collect", "/usr/local/bin/node_exporter"}, Runtime::Unknown, false, false},
        {{"collect", "/usr/local/bin/node-exporter"}, Runtime::Unknown, false, false},
        {{"run", "/srv/tools/pythonista"}, Runtime::Unknown, false, false},
    };
}

// How the flame graph draws `frame` as the one user frame of a path.
FlameKind flame_kind(const Frame& frame) {
    Report report = base_report(1);
    report.sockets.push_back(sock4("10.0.0.1", 40000, "10.0.0.2", 80, 60, 4242, "fetcher",
                                   connect_origin(4242, "fetcher", {frame})));
    for (const FlameStack& stack : flame_stacks(report))
        for (const FlameFrame& f : stack.frames)
            if (f.name == frame.function) return f.kind;
    ADD_FAILURE() << frame.function << " not drawn";
    return FlameKind::Missing;
}

TEST(RuntimeAgreement, EveryReaderSaysTheSameOfAFrame) {
    for (const Case& c : cases()) {
        const std::string what = c.frame.function + " in " + c.frame.module;
        Origin path;
        path.kind = OriginKind::Connect;
        path.user_stack = {c.frame};
        path.comm = "fetcher";  // a name no runtime goes by: the frame alone tells
        EXPECT_EQ(to_string(runtime_of(path)), std::string(to_string(c.runtime))) << what;
        const bool own = OwnCode{}.own_frames({c.frame}).front();
        // A frame of the runtime's own code is never the user's; of the others, only the
        // standard libraries' (JDK, node's JavaScript, net/http) are not.
        const bool library = c.runtime != Runtime::Unknown && !c.runtimes && !c.interpreter;
        EXPECT_EQ(own, !c.runtimes && !library) << what;
        EXPECT_EQ(flame_kind(c.frame) == FlameKind::Interpreter, c.interpreter) << what;
    }
}

}  // namespace
}  // namespace cwtrace
