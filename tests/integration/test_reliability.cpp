// Integration tests of reliability: identity across SCM_RIGHTS, two instances at once, a full
// ring buffer, openers beyond the opener map. Real BPF and fixture programs, assertions on the
// JSON report; with CWTRACE_REQUIRE_BPF=1 a test that cannot load BPF fails, otherwise it is
// skipped.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cwtrace/abi.h"
#include "harness.h"
#include "kernel/opener_capacity.h"
#include "memory_cgroup.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

// Runs of white space (a wrapped line) as one space.
std::string one_line(const std::string& text) {
    std::string out;
    for (char c : text) {
        const bool space = c == ' ' || c == '\n' || c == '\t';
        if (!space || out.empty() || out.back() != ' ') out += space ? ' ' : c;
    }
    return out;
}

class Reliability : public ::testing::Test {};

// The opener sends its sockets over a unix socket (SCM_RIGHTS) to a process that did not
// inherit them, and closes its own copies: the receiver owns them now; the origin is still the
// opener, with the stack that opened them.
TEST_F(Reliability, SocketSentWithScmRightsIsOwnedByTheReceiver) {
    auto cwtrace = start_cwtrace({"--min-age", "1s", "-f", "json"});
    if (!cwtrace) return;
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    Process opener({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "2", "-r"});
    auto received = opener.wait_line("received ", 5s);
    ASSERT_TRUE(received) << opener.err();
    const pid_t receiver = number_after_space(*received);
    ASSERT_TRUE(opener.wait_line("ready", 5s)) << opener.err();
    std::this_thread::sleep_for(1200ms);

    json report = stop_with_report(*cwtrace);
    auto leaked = sockets_with_port(report, "remote", port);
    ASSERT_EQ(leaked.size(), 2u) << report.dump(2);
    for (const auto& s : leaked) {
        EXPECT_EQ(s.at("pid"), receiver) << "owner: the receiver, not the opener " << opener.pid();
        EXPECT_EQ(s.at("origin").at("pid"), opener.pid());
        EXPECT_EQ(s.at("origin").at("kind"), "connect");
        auto user = function_names(s.at("origin").at("user_stack"));
        EXPECT_TRUE(contains(user, "open_connection") && contains(user, "crawl")) << joined(user);
    }
}

// --pid of the receiver: the kernel does not follow sockets opened by another process, so the
// ones handed over are found through sock_diag at report time, owned by the receiver. Another
// process leaks to the same peer in the same run: its sockets must not be reported.
TEST_F(Reliability, PidOfTheReceiverFindsSocketsHandedOverWhileTracing) {
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    Process opener({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "2", "-r", "-w", "30"});
    auto receiver_line = opener.wait_line("receiver ", 5s);
    ASSERT_TRUE(receiver_line) << opener.err();
    const pid_t receiver = number_after_space(*receiver_line);
    auto cwtrace =
        start_cwtrace({"--min-age", "1s", "-f", "json", "--pid", std::to_string(receiver)});
    if (!cwtrace) return;
    ASSERT_TRUE(opener.wait_line("waiting", 5s)) << opener.err();
    opener.signal(SIGUSR1);  // attached: now the openings
    Process other({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "3"});
    ASSERT_TRUE(opener.wait_line("ready", 8s)) << opener.err();
    ASSERT_TRUE(other.wait_line("ready", 5s)) << other.err();
    std::this_thread::sleep_for(1500ms);

    json report = stop_with_report(*cwtrace);
    auto leaked = sockets_with_port(report, "remote", port);
    ASSERT_EQ(leaked.size(), 2u) << "the receiver's 2, not the other's 3: " << report.dump(2);
    for (const auto& s : leaked) EXPECT_EQ(s.at("pid"), receiver) << s.dump();
    for (const auto& s : report.at("sockets")) EXPECT_EQ(s.at("pid"), receiver) << s.dump();
}

// Two cwtrace at once: each has its own programs and ring buffer and sees every leak; stopping
// one does not detach the other; after both, nothing of either is left in the kernel.
TEST_F(Reliability, TwoInstancesDoNotDisturbEachOther) {
    const auto before = cwtrace_bpf_objects();
    auto first = start_cwtrace({"--min-age", "1s", "-f", "json"});
    if (!first) return;
    const auto first_programs = new_cwtrace_bpf_objects(before);
    auto second = start_cwtrace({"--min-age", "1s", "-f", "json"});
    if (!second) return;
    ASSERT_FALSE(first_programs.empty()) << "bpftool lists the first instance's programs";
    EXPECT_EQ(new_cwtrace_bpf_objects(before).size(), 2 * first_programs.size())
        << "two sets loaded: " << joined(new_cwtrace_bpf_objects(before));

    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    Process early({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "2"});
    ASSERT_TRUE(early.wait_line("ready", 5s)) << early.err();
    std::this_thread::sleep_for(1200ms);
    json first_report = stop_with_report(*first);
    EXPECT_EQ(sockets_with_port(first_report, "remote", port).size(), 2u) << first_report.dump(2);
    EXPECT_TRUE(nothing_dropped(first_report.at("stats")));

    // The second instance still traces: a leak made after the first one stopped is seen.
    EXPECT_FALSE(new_cwtrace_bpf_objects(before).empty()) << "second instance still attached";
    Process late({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "1"});
    ASSERT_TRUE(late.wait_line("ready", 5s)) << late.err();
    std::this_thread::sleep_for(1200ms);
    json second_report = stop_with_report(*second);
    auto seen = sockets_with_port(second_report, "remote", port);
    ASSERT_EQ(seen.size(), 3u) << second_report.dump(2);
    size_t from_late = 0;
    for (const auto& s : seen) {
        from_late += s.at("pid") == late.pid();
        EXPECT_EQ(s.at("origin").at("kind"), "connect");
    }
    EXPECT_EQ(from_late, 1u);
    EXPECT_TRUE(nothing_dropped(second_report.at("stats")));

    wait_unloaded(before);
    EXPECT_TRUE(new_cwtrace_bpf_objects(before).empty()) << joined(new_cwtrace_bpf_objects(before));
}

// A ring buffer of one page and a consumer that cannot run (SIGSTOP) while 60 sockets enter
// CLOSE_WAIT: the records that did not fit are counted as ring buffer full in lost_events, and
// the text report states it.
TEST_F(Reliability, FullRingBufferIsCountedAndStated) {
    const std::string path = ::testing::TempDir() + "cwtrace-ringbuf.json";
    std::remove(path.c_str());
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    setenv("CWTRACE_RINGBUF_BYTES", "4096", 1);
    auto cwtrace = start_cwtrace({"--min-age", "0s", "-o", path});
    unsetenv("CWTRACE_RINGBUF_BYTES");
    if (!cwtrace) return;

    // While cwtrace reads nothing: 60 sockets enter CLOSE_WAIT and leave it (each leave a
    // record, of a late close at --min-age 0), and 60 more enter it and stay.
    cwtrace->signal(SIGSTOP);
    Process closing({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "60", "-c", "0"});
    const bool closed = closing.wait_line("closed", 10s).has_value();
    Process leaking({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "60"});
    const bool ready = leaking.wait_line("ready", 10s).has_value();
    cwtrace->signal(SIGCONT);
    ASSERT_TRUE(closed) << closing.err();
    ASSERT_TRUE(ready) << leaking.err();
    std::this_thread::sleep_for(300ms);
    ASSERT_EQ(stop(*cwtrace), std::optional<int>(0)) << cwtrace->err();

    std::ifstream file(path);
    ASSERT_TRUE(file.good()) << path;
    json report = json::parse(file);
    const json& stats = report.at("stats");
    // 60 leave records (with the ring's 8-byte header each) cannot fit in 4096 bytes. A lower
    // bound only: the ring is shared with every other process's records (exec()s, other
    // sockets) while cwtrace is stopped, so how many of ours fit is not known.
    const uint64_t ringbuf_full = stats.at("lost").at("ringbuf_full").get<uint64_t>();
    EXPECT_GE(ringbuf_full, 60u - 4096 / (sizeof(cw_event_leave) + 8)) << stats.dump();
    // lost_events also counts the machine's other losses (stacks not captured): not exact.
    EXPECT_GE(stats.at("lost_events").get<uint64_t>(), ringbuf_full) << stats.dump();
    // Every leak is still reported: the kernel notes a socket whose opener it knows in its map
    // as it enters CLOSE_WAIT, which no full ring buffer loses.
    EXPECT_EQ(sockets_with_port(report, "remote", port).size(), 60u) << stats.dump();

    RunResult rendered = run_command({CWTRACE_BIN, "render", path, "-f", "text"}, 10s);
    ASSERT_EQ(rendered.exit_code, 0) << rendered.err;
    const std::string text = one_line(rendered.out);
    EXPECT_NE(text.find("WARNING"), std::string::npos) << rendered.out;
    EXPECT_NE(text.find("ring buffer full: " + std::to_string(ringbuf_full)), std::string::npos)
        << rendered.out;
    EXPECT_NE(text.find("may be incomplete"), std::string::npos) << rendered.out;
    std::remove(path.c_str());
}

// Peers close before the servers' accept() while cwtrace reads nothing and its ring buffer (one
// page) fills: server `early`'s sockets enter CLOSE_WAIT while their records still fit, 60 late
// closes and 100 exec()s then fill the ring to its last bytes, server `late`'s sockets enter
// CLOSE_WAIT (records lost), and both accept (the records naming the openers lost). accept()
// notes each socket in the kernel's map, so the report still names the accepting processes.
TEST_F(Reliability, AcceptedSocketsWhoseRecordsWereLostKeepTheirOpeners) {
    Process peer({FX_PEER, "-l"});
    const int peer_port = announced_port(peer);
    setenv("CWTRACE_RINGBUF_BYTES", "4096", 1);
    auto cwtrace = start_cwtrace({"--min-age", "0s", "-f", "json"});
    unsetenv("CWTRACE_RINGBUF_BYTES");
    if (!cwtrace) return;

    cwtrace->signal(SIGSTOP);
    auto leaking_server = [](const char* delay) {
        auto server = std::make_unique<Process>(
            std::vector<std::string>{FX_LEAKY_SERVER, "-n", "2", "-a", delay});
        const int port = announced_port(*server);
        Process closer({FX_PEER, "-p", std::to_string(port), "-n", "2"});
        EXPECT_TRUE(closer.wait_line("done", 5s)) << closer.err();
        return std::make_pair(std::move(server), port);
    };
    auto [early, early_port] = leaking_server("2");
    Process closing({FX_LEAKY_CLIENT, "-p", std::to_string(peer_port), "-n", "60", "-c", "0"});
    const bool closed = closing.wait_line("closed", 10s).has_value();
    // An exec() record is the smallest (48 bytes): after them no record of a socket fits.
    const RunResult execs =
        run_command({"/bin/sh", "-c", "for i in $(seq 100); do /bin/true; done"}, 10s);
    auto [late, late_port] = leaking_server("1");
    const bool ready = early->wait_line("ready", 5s) && late->wait_line("ready", 5s);
    cwtrace->signal(SIGCONT);
    ASSERT_TRUE(closed) << closing.err();
    ASSERT_EQ(execs.exit_code, 0) << execs.err;
    ASSERT_TRUE(ready) << early->err() << late->err();

    json report = stop_with_report(*cwtrace);
    const json& stats = report.at("stats");
    // The 60 leave records, and 2 records of each server's sockets at least: a lower bound, as
    // above (other processes' records share the ring).
    EXPECT_GE(stats.at("lost").at("ringbuf_full").get<uint64_t>(),
              60u - 4096 / (sizeof(cw_event_leave) + 8) + 4)
        << stats.dump();
    for (const auto& [server, port] :
         {std::pair{early.get(), early_port}, std::pair{late.get(), late_port}}) {
        size_t leaked = 0;
        for (const auto& s : report.at("sockets")) {
            if (s.at("local").at("port").get<int>() != port) continue;
            ++leaked;
            const json& origin = s.at("origin");
            EXPECT_EQ(origin.at("kind"), "accept") << stats.dump();
            EXPECT_EQ(origin.at("pid"), server->pid());
            EXPECT_TRUE(in_order(function_names(origin.at("user_stack")),
                                 {"accept_connection", "handle_client", "serve", "main"}))
                << origin.dump();
        }
        EXPECT_EQ(leaked, 2u) << report.dump(2);
    }
}

// -o into a directory the user cannot write to: exit 2 naming the path, before anything is
// loaded (so a long run is not lost at the end). Two ways: a 0555 directory for an unprivileged
// user, a read-only mount for root (which no permission bit stops).
TEST(Errors, OutputIntoNonWritableDirectoryIsExit2BeforeTracing) {
    const std::string dir = ::testing::TempDir() + "cwtrace-readonly";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directory(dir);
    std::filesystem::permissions(dir, std::filesystem::perms(0555));
    const std::string path = dir + "/report.json";
    const auto before = cwtrace_bpf_objects();
    const std::vector<std::vector<std::string>> runs = {
        {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
         CWTRACE_BIN, "-d", "1s", "-o", path},
        {"/usr/bin/unshare", "-m", "/bin/sh", "-c",
         "mount --bind -o ro \"$0\" \"$0\" && exec \"$1\" -d 1s -o \"$0/report.json\"", dir,
         CWTRACE_BIN}};
    for (const auto& argv : runs) {
        RunResult r = run_command(argv, 10s);
        EXPECT_EQ(r.exit_code, 2) << argv[0] << ": " << r.err;
        EXPECT_NE(r.err.find(path), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("not writable"), std::string::npos) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    }
    EXPECT_TRUE(new_cwtrace_bpf_objects(before).empty()) << "nothing loaded";
    EXPECT_FALSE(std::filesystem::exists(path));
    std::filesystem::remove_all(dir);
}

// A tracefs with only the tracepoints in `keep` (their ids copied from the real one).
std::string partial_tracefs(const std::string& name, const std::vector<std::string>& keep) {
    namespace fs = std::filesystem;
    if (!fs::exists("/sys/kernel/tracing/events"))
        ::mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr);
    const std::string root = ::testing::TempDir() + name;
    fs::remove_all(root);
    fs::create_directories(root + "/events");
    for (const auto& tp : keep) {
        fs::create_directories(root + "/events/" + tp);
        std::ifstream in("/sys/kernel/tracing/events/" + tp + "/id");
        std::ofstream(root + "/events/" + tp + "/id") << in.rdbuf();
    }
    return root;
}

// A kernel without the tracepoint cwtrace stands on: exit 1 with one line naming it and a
// hint, nothing left in the kernel. CWTRACE_TRACEFS points at a tracefs that lacks it.
TEST(Errors, MissingTracepointIsExit1NamingIt) {
    const std::string root = partial_tracefs("cwtrace-tracefs-none", {});
    const auto before = cwtrace_bpf_objects();
    RunResult r = run_command(
        {"/usr/bin/env", "CWTRACE_TRACEFS=" + root, CWTRACE_BIN, "-d", "1s", "-f", "json"}, 20s);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("tracepoint sock:inet_sock_set_state not found"), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("hint"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_TRUE(new_cwtrace_bpf_objects(before).empty()) << "nothing left loaded";
    std::filesystem::remove_all(root);
}

// Without the syscall tracepoints (a kernel built without CONFIG_FTRACE_SYSCALLS) cwtrace says
// what is lost and still reports connect()ed leaks with their opening path.
TEST_F(Reliability, MissingOptionalTracepointsWarnAndConnectLeaksAreStillReported) {
    const std::string root = partial_tracefs("cwtrace-tracefs-sock", {"sock/inet_sock_set_state"});
    auto cwtrace = start_cwtrace({"--min-age", "1s", "-f", "json"}, {"CWTRACE_TRACEFS=" + root});
    if (!cwtrace) return;
    EXPECT_NE(cwtrace->err().find("syscalls:sys_exit_accept4 not found: sockets from accept()"),
              std::string::npos)
        << cwtrace->err();
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    Process client({FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", "2"});
    ASSERT_TRUE(client.wait_line("ready", 5s)) << client.err();
    std::this_thread::sleep_for(1200ms);

    json report = stop_with_report(*cwtrace);
    auto leaked = sockets_with_port(report, "remote", port);
    ASSERT_EQ(leaked.size(), 2u) << report.dump(2);
    for (const auto& s : leaked) {
        EXPECT_EQ(s.at("pid"), client.pid());
        EXPECT_EQ(s.at("origin").at("kind"), "connect");
        auto user = function_names(s.at("origin").at("user_stack"));
        EXPECT_TRUE(contains(user, "open_connection")) << joined(user);
    }
    std::filesystem::remove_all(root);
}

// The kernel refuses memory for a map (kernel memory is charged to the memory cgroup; before
// 5.11 RLIMIT_MEMLOCK played that part): exit 1 naming the map, with a hint; nothing left.
TEST(Errors, MapCreationRefusedIsExit1NamingTheMap) {
    MemoryCgroup cgroup(96ull << 20);
    ASSERT_FALSE(cgroup.procs().empty()) << "no memory cgroup controller on this machine";
    const auto before = cwtrace_bpf_objects();
    RunResult r = run_command(
        {"/bin/sh", "-c", "echo $$ > \"$0\" && exec \"$@\"", cgroup.procs(), "/usr/bin/env",
         "CWTRACE_RINGBUF_BYTES=1073741824", CWTRACE_BIN, "-d", "1s", "-f", "json"},
        30s);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("the kernel refused to create BPF map 'events'"), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("hint: raise the memory limit"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(new_cwtrace_bpf_objects(before).empty()) << "nothing left loaded";
}

}  // namespace

// 100 connections opened by one process against a 64-entry opener map: with --pid only that
// process's openings are recorded, so at least 36 are not (30 as the opener table, 64 in whole
// buckets of 7, which may find no room a little before it is full: a socket's entry goes in one
// of two buckets), each counted, and the report says how many and why.
TEST(Scale, OpenersBeyondTheMapAreCountedWithItsSizeAndTheirSocketsKeepTheirOwner) {
    constexpr int kLeaks = 100, kEntries = 64;
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    Process client(
        {FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", std::to_string(kLeaks), "-w", "20"});
    ASSERT_TRUE(client.wait_line("waiting", 5s)) << client.err();
    auto cwtrace =
        start_cwtrace({"-f", "json", "--min-age", "0s", "--pid", std::to_string(client.pid())},
                      {"CWTRACE_ORIGIN_MAP_ENTRIES=" + std::to_string(kEntries)});
    if (!cwtrace) return;
    client.signal(SIGUSR1);  // attached: now the leaks
    ASSERT_TRUE(client.wait_line("ready", 10s)) << client.err();
    const json report = stop_with_report(*cwtrace);
    expect_schema_valid(cwtrace->out());

    const json& stats = report.at("stats");
    const int unrecorded = stats.at("lost").at("origin_map_full").get<int>();
    const int capacity = stats.at("origin_map_entries").get<int>();
    EXPECT_TRUE(capacity == kEntries ||
                capacity == int(cwtrace::opener_buckets(kEntries) * CW_OPENER_WAYS))
        << stats.dump();
    EXPECT_GE(unrecorded, kLeaks - capacity) << stats.dump();
    EXPECT_GE(stats.at("lost_events").get<int>(), unrecorded);
    const std::vector<json> leaked = sockets_with_port(report, "remote", port);
    ASSERT_EQ(leaked.size(), size_t{kLeaks}) << report.dump(1);
    int with_opener = 0;
    for (const json& s : leaked) {
        EXPECT_EQ(s.at("pid"), client.pid());  // every one with its owner
        if (s.at("origin").at("pid").is_null()) continue;
        ++with_opener;
        EXPECT_TRUE(contains(function_names(s.at("origin").at("user_stack")), "open_connection"));
    }
    EXPECT_EQ(with_opener, kLeaks - unrecorded);  // each one not recorded counted, none more
    EXPECT_GT(with_opener, kEntries / 2);

    // The text says it in words, with the size and the setting that raises it.
    const std::string saved = "/tmp/cwtrace-scale-" + std::to_string(getpid()) + ".json";
    std::ofstream(saved) << cwtrace->out();
    const RunResult text = run_command({CWTRACE_BIN, "render", saved}, 20s);
    std::remove(saved.c_str());
    ASSERT_EQ(text.exit_code, 0) << text.err;
    EXPECT_NE(one_line(text.out).find(
                  std::to_string(unrecorded) +
                  " openers not recorded: no room for them in the opener map (" +
                  std::to_string(capacity) +
                  " entries; CWTRACE_ORIGIN_MAP_ENTRIES raises it); their sockets show no "
                  "opening path"),
              std::string::npos)
        << text.out;
}

namespace {

// Opens 400 connections while cwtrace traces (with `--pid` of their opener, or not), then stops
// it: every socket must be in the final report with its owner, its opening path and what
// sock_diag says of it.
void expect_burst_reported_whole(bool by_pid) {
    constexpr int kLeaks = 400;
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    Process client(
        {FX_LEAKY_CLIENT, "-p", std::to_string(port), "-n", std::to_string(kLeaks), "-w", "20"});
    ASSERT_TRUE(client.wait_line("waiting", 5s)) << client.err();
    std::vector<std::string> args = {"-f", "json", "--min-age", "0s"};
    if (by_pid) args.insert(args.end(), {"--pid", std::to_string(client.pid())});
    auto cwtrace = start_cwtrace(args);
    if (!cwtrace) return;
    client.signal(SIGUSR1);  // attached: now the leaks
    ASSERT_TRUE(client.wait_line("ready", 20s)) << client.err();
    const json report = stop_with_report(*cwtrace);
    const std::vector<json> leaked = sockets_with_port(report, "remote", port);
    ASSERT_EQ(leaked.size(), size_t{kLeaks}) << report.at("stats").dump();
    int with_opener = 0;
    for (const json& s : leaked) {
        ASSERT_EQ(s.at("pid"), client.pid()) << s.dump();  // its owner
        EXPECT_EQ(s.at("comm"), "leaky_client");
        EXPECT_EQ(s.at("recv_q"), 0) << s.dump();  // its facts: EOF read, never closed
        EXPECT_EQ(s.at("diagnosis"), "eof_read_not_closed");
        EXPECT_EQ(s.at("accepted"), false);
        if (s.at("origin").at("pid") != client.pid()) continue;
        EXPECT_TRUE(contains(function_names(s.at("origin").at("user_stack")), "open_connection"));
        ++with_opener;
    }
    // Every opener recorded has its path shown; one the kernel could not record is counted.
    const json& lost = report.at("stats").at("lost");
    EXPECT_LE(kLeaks - with_opener, lost.value("origin_map_full", 0) +
                                        lost.value("ringbuf_full", 0) +
                                        lost.value("recursion_misses", 0))
        << lost.dump();
}

}  // namespace

// The final report is made after tracing ends, its sock_diag dump and walk of the holders
// running beside the read of the kernel's map.
TEST(Scale, ABurstWhileTracingIsReportedWholeAfterSigint) { expect_burst_reported_whole(false); }

// With --pid the report reconciles its table with that dump first.
TEST(Scale, ABurstOfOneProcessIsReportedWholeAfterSigint) { expect_burst_reported_whole(true); }
