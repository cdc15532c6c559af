// Go's net/http dials in a goroutine of its own: the opening thread's stack ends in the
// transport, and the user's function is on the goroutine that asked for the connection. These
// run the leaky_go fixture's http.Get leak against the keep-alive server and look for that
// goroutine in the opening path: its creator's go statement always, its whole stack when the
// program runs with GODEBUG=tracebackancestors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "harness.h"
#include "leak_checks.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

constexpr int kLeaks = 3;
// Where net/http 1.19's transport starts the dialling goroutine (transport.go: `go
// t.dialConnFor(w)` in queueForDial).
constexpr const char* kTransportCreator = "net/http.(*Transport).queueForDial";

// The frames of a JSON user stack marked as the creating goroutine's (`creator` 1).
std::vector<std::string> creator_functions(const json& stack) {
    std::vector<std::string> out;
    for (const json& f : stack)
        if (f.value("creator", 0) == 1) out.push_back(f.at("function"));
    return out;
}

class GoGoroutines : public ::testing::Test {
  protected:
    void SetUp() override {
        if (std::string(FX_GO_LEAK).empty())
            GTEST_SKIP() << "go is not installed (apt-get install golang-go)";
        server_ =
            std::make_unique<Process>(std::vector<std::string>{CWTRACE_PYTHON3, FX_PYTHON_SERVER});
        port_ = number_after_space(server_->wait_line("port ", 10s).value_or("port 0"));
        ASSERT_GT(port_, 0) << server_->err();
    }

    // The sockets the fixture leaked, from the JSON report of a run (cwtrace's stderr in `err`);
    // `godebug`: the fixture's GODEBUG ("" for none); `binary`: the plain or the stripped build.
    std::vector<json> leak(const std::string& godebug, std::string* err, std::string* raw,
                           const std::string& binary = FX_GO_LEAK) {
        auto cwtrace = start_cwtrace({"--min-age", "1s", "-f", "json"});
        if (!cwtrace) return {};
        const std::string url = "http://127.0.0.1:" + std::to_string(port_) + "/page";
        // cwtrace registers a Go program when its exec() record is read, which a program that
        // connects at once can outrun (README: Go goroutines): the fixture waits a moment.
        std::vector<std::string> argv = {"/usr/bin/env", "LEAKY_GO_WAIT_MS=300"};
        if (!godebug.empty()) argv.push_back("GODEBUG=" + godebug);
        for (std::string a : {binary, std::string("http"), url, std::to_string(kLeaks)})
            argv.push_back(a);
        Process go(argv);
        pid_ = go.pid();
        EXPECT_TRUE(go.wait_line("ready", 10s)) << go.err();
        std::this_thread::sleep_for(1500ms);
        EXPECT_EQ(stop(*cwtrace), std::optional<int>(0)) << cwtrace->err();
        *err = cwtrace->err();
        *raw = cwtrace->out();
        return sockets_with_port(json::parse(cwtrace->out()), "remote", port_);
    }

    // Every leaked socket's opening path goes through the creating goroutine to the user's
    // function, the own frame, in `binary`'s run.
    void expect_creator_path(const std::vector<json>& leaked, const std::string& binary) {
        for (const json& s : leaked) {
            const json& origin = s.at("origin");
            EXPECT_EQ(origin.at("pid"), pid_);
            EXPECT_EQ(s.at("pid"), pid_);
            EXPECT_TRUE(
                s.at("owner").at("cmdline").get<std::string>().starts_with(binary + " http "))
                << s.at("owner").dump();
            const json& stack = origin.at("user_stack");
            // The dialling goroutine's own frames first, then its creator's, from the go statement
            // out to the user's function and main; http.Get, inlined into it, is a frame of its
            // own as in Go's tracebacks (the runtime saved a PC for it).
            EXPECT_TRUE(in_order(
                function_names(stack),
                {"net/http.(*Transport).dialConn", "runtime.goexit", kTransportCreator,
                 "net/http.(*Client).Get", "net/http.Get", "main.fetchWithoutClose", "main.main"}))
                << joined(function_names(stack));
            EXPECT_TRUE(has_chain(
                creator_functions(stack),
                {"net/http.(*Client).Get", "net/http.Get", "main.fetchWithoutClose", "main.main"}))
                << joined(creator_functions(stack));
            const auto creators = creator_functions(stack);
            EXPECT_TRUE(!creators.empty() && creators.front() == kTransportCreator)
                << joined(creators);
            EXPECT_TRUE(contains(creators, "main.fetchWithoutClose")) << joined(creators);
            // An inlined call's two saved PCs (its site and its parent's inline mark) name one
            // frame: no function follows itself at the same line.
            for (size_t i = 1; i < stack.size(); ++i)
                EXPECT_FALSE(stack[i].value("creator", 0) > 0 &&
                             stack[i].at("function") == stack[i - 1].at("function") &&
                             stack[i].value("line", -1) == stack[i - 1].value("line", -1))
                    << "twice at " << i << ": " << joined(function_names(stack));
            EXPECT_TRUE(own_frame_is(origin, "main.fetchWithoutClose"));
            EXPECT_EQ(stack.at(origin.at("own_frame").get<size_t>()).value("creator", 0), 1);
        }
    }

    std::unique_ptr<Process> server_;
    int port_ = 0;
    pid_t pid_ = 0;
};

TEST_F(GoGoroutines, AncestorsShowTheGoroutineThatAskedForTheConnection) {
    std::string err, raw;
    const auto leaked = leak("tracebackancestors=5", &err, &raw);
    ASSERT_EQ(leaked.size(), size_t(kLeaks)) << raw;
    expect_schema_valid(raw);
    expect_creator_path(leaked, FX_GO_LEAK);
    EXPECT_EQ(err.find("GODEBUG=tracebackancestors"), std::string::npos) << err;
}

// As Go services ship (-ldflags='-s -w'): the creators' pcs are named from .gopclntab too.
TEST_F(GoGoroutines, AncestorsInAStrippedBinary) {
    std::string err, raw;
    const auto leaked = leak("tracebackancestors=5", &err, &raw, FX_GO_LEAK_STRIPPED);
    ASSERT_EQ(leaked.size(), size_t(kLeaks)) << raw;
    expect_schema_valid(raw);
    expect_creator_path(leaked, FX_GO_LEAK_STRIPPED);
}

TEST_F(GoGoroutines, WithoutAncestorsTheCreatorIsNamedAndTheHintSaidOnce) {
    std::string err, raw;
    const auto leaked = leak("", &err, &raw);
    ASSERT_EQ(leaked.size(), size_t(kLeaks)) << raw;
    for (const json& s : leaked) {
        const json& origin = s.at("origin");
        EXPECT_EQ(origin.at("pid"), pid_);
        const json& stack = origin.at("user_stack");
        // "created by": the one frame of the creating goroutine, after the dialling one's.
        EXPECT_EQ(creator_functions(stack), std::vector<std::string>{kTransportCreator})
            << joined(function_names(stack));
        ASSERT_FALSE(stack.empty());
        EXPECT_EQ(stack.back().at("function"), kTransportCreator);
    }
    const std::string hint = "leaky_go[" + std::to_string(pid_) +
                             "]: the connection was dialled in a goroutine net/http started; run "
                             "the program with GODEBUG=tracebackancestors=5 to see the goroutine "
                             "that asked for it";
    const size_t at = err.find(hint);
    EXPECT_NE(at, std::string::npos) << err;
    EXPECT_EQ(err.find(hint, at + 1), std::string::npos) << "said twice: " << err;
}

}  // namespace
