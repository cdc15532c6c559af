// Exact checks on a leaked socket's opening: a chain of function names must appear as a run of
// consecutive frames, so that a dropped frame, a bogus frame in between or a name that merely
// contains the expected one ("open_connection" for "connect") fails; the innermost frame is the C
// library's wrapper; a thread's opening names that thread. On failure the whole stack is printed.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace cwtrace::testing {

// Whether `frames` (innermost first) begins with exactly `chain`, nothing between.
inline ::testing::AssertionResult starts_with_chain(const std::vector<std::string>& frames,
                                                    const std::vector<std::string>& chain) {
    if (frames.size() >= chain.size() && std::equal(chain.begin(), chain.end(), frames.begin()))
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "expected innermost frames [ " << joined(chain)
                                         << "]\n  in stack [ " << joined(frames) << "]";
}

// Whether `chain` appears in `frames` as consecutive frames, nothing between.
inline ::testing::AssertionResult has_chain(const std::vector<std::string>& frames,
                                            const std::vector<std::string>& chain) {
    if (std::search(frames.begin(), frames.end(), chain.begin(), chain.end()) != frames.end())
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "expected consecutive frames [ " << joined(chain)
                                         << "]\n  in stack [ " << joined(frames) << "]";
}

// Whether the opening's first own frame (origin.own_frame, an index into user_stack, and
// origin.own, that frame repeated) is `function`, and at `line` when one is given: the frame a
// report's headline names.
::testing::AssertionResult own_frame_is(const nlohmann::json& origin, const std::string& function,
                                        int line = 0);

// Whether every frame of `module` in a JSON user stack can be named later from the file alone:
// it keeps an address, a file offset at which the file's symbols name the frame's function, and
// the build id the file was linked with; and whether no kernel frame gives its address away.
::testing::AssertionResult symbolizable_later(const nlohmann::json& origin,
                                              const std::string& module,
                                              const std::string& build_id);

// Whether the innermost frame of a JSON stack is `function` in the C library (libc.so.6).
inline ::testing::AssertionResult innermost_in_libc(const nlohmann::json& stack,
                                                    const std::string& function) {
    if (!stack.empty() && stack[0].at("function") == function &&
        stack[0].value("module", "").ends_with("/libc.so.6"))
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "expected " << function << " in libc.so.6 innermost in " << stack.dump(1);
}

// The tid a fixture's named thread announced ("thread TID"); 0 when it said none within 5 s.
inline pid_t announced_tid(Process& fixture) {
    using namespace std::chrono_literals;
    return number_after_space(fixture.wait_line("thread ", 5s).value_or("thread 0"));
}

// The socket was opened (`kind`: "connect" or "accept") by thread `tid`, named `thread_name`,
// of process `pid`, which owns it; that thread is not the main one, so a tid recorded as the
// process's id, or the process's name given for the thread's, cannot pass.
inline void expect_opened_by_thread(const nlohmann::json& socket, pid_t pid, pid_t tid,
                                    const std::string& thread_name, const std::string& kind) {
    EXPECT_NE(tid, pid) << "the fixture must open from a thread of its own";
    EXPECT_EQ(socket.at("pid"), pid) << socket.dump(2);
    const nlohmann::json& origin = socket.at("origin");
    EXPECT_EQ(origin.at("kind"), kind) << socket.dump(2);
    EXPECT_EQ(origin.at("pid"), pid) << socket.dump(2);
    EXPECT_EQ(origin.at("tid"), tid) << socket.dump(2);
    EXPECT_EQ(origin.at("comm"), thread_name) << socket.dump(2);
}

// What one run of a leaking fixture gave: the sockets on its port, its pid, and the tid its
// named thread announced (0 without -t).
struct Leaks {
    std::vector<nlohmann::json> sockets;
    pid_t pid = 0;
    pid_t tid = 0;
};

// While `cwtrace` traces, leaky_client (with `extra` arguments) leaks `n` connections to a peer
// that closes each at once; once they are 1.5 s in CLOSE_WAIT, cwtrace is stopped and those
// sockets read from its JSON report (exactly `n` of them, or a failure).
inline Leaks client_leaks(Process& cwtrace, int n, const std::vector<std::string>& extra) {
    using namespace std::chrono_literals;
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    std::vector<std::string> args = {FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n",
                                     std::to_string(n)};
    args.insert(args.end(), extra.begin(), extra.end());
    Process client(args);
    Leaks leaks{{}, client.pid(), 0};
    if (contains(extra, "-t")) leaks.tid = announced_tid(client);
    EXPECT_TRUE(client.wait_line("ready", 5s)) << client.err();
    std::this_thread::sleep_for(1500ms);
    const nlohmann::json report = stop_with_report(cwtrace);
    leaks.sockets = sockets_with_port(report, "remote", port);
    EXPECT_EQ(leaks.sockets.size(), static_cast<size_t>(n)) << report.dump(2);
    return leaks;
}

// The same with leaky_server accepting `n` connections that the peer has already closed.
inline Leaks server_leaks(Process& cwtrace, int n, const std::vector<std::string>& extra) {
    using namespace std::chrono_literals;
    std::vector<std::string> args = {FX_LEAKY_SERVER, "-n", std::to_string(n)};
    args.insert(args.end(), extra.begin(), extra.end());
    Process server(args);
    const int port = announced_port(server);
    Leaks leaks{{}, server.pid(), 0};
    if (contains(extra, "-t")) leaks.tid = announced_tid(server);
    Process peer({FX_PEER, "-p", std::to_string(port), "-n", std::to_string(n)});
    EXPECT_TRUE(peer.wait_line("done", 5s)) << peer.err();
    EXPECT_TRUE(server.wait_line("ready", 5s)) << server.err();
    std::this_thread::sleep_for(1500ms);
    const nlohmann::json report = stop_with_report(cwtrace);
    leaks.sockets = sockets_with_port(report, "local", port);
    EXPECT_EQ(leaks.sockets.size(), static_cast<size_t>(n)) << report.dump(2);
    return leaks;
}

}  // namespace cwtrace::testing
