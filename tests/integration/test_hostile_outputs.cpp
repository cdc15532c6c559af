// What cwtrace writes, logs and keeps, with a hostile neighbour on the host (issue 25): a link
// planted where the report goes is never followed, hostile strings reach the log escaped, and
// a user making many distinct stacks cannot fill the kernel's stack map for the rest of the run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A directory another account could write to, with a root-only file beside it.
class HostileOutputs : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/cwtrace-hostile-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        ASSERT_EQ(chmod(dir_.c_str(), 01777), 0);
        secret_ = dir_ / "shadow";
        std::ofstream(secret_) << "root:$6$secret\n";
        ASSERT_EQ(chmod(secret_.c_str(), 0600), 0);
    }
    void TearDown() override { fs::remove_all(dir_); }

    void expect_secret_unchanged() {
        EXPECT_EQ(slurp(secret_), "root:$6$secret\n");
        struct stat st = {};
        ASSERT_EQ(stat(secret_.c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 07777, 0600u);
        EXPECT_EQ(st.st_uid, 0u);
    }

    fs::path dir_, secret_;
};

// A link planted at the -o path while cwtrace runs (it was checked at start): the report
// replaces the link, 0600, and the file it named is left as it was. cwtrace followed it.
TEST_F(HostileOutputs, ALinkPlantedAtTheOutputIsReplacedNotFollowed) {
    const fs::path out = dir_ / "report.json";
    auto cwtrace = start_cwtrace({"-d", "2s", "--min-age", "0s", "-f", "json", "-o", out});
    if (!cwtrace) return;
    fs::create_symlink(secret_, out);
    ASSERT_EQ(cwtrace->wait(20s), std::optional<int>(0)) << cwtrace->err();
    expect_secret_unchanged();
    struct stat st = {};
    ASSERT_EQ(lstat(out.c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_TRUE(json::parse(slurp(out), nullptr, false).contains("sockets")) << slurp(out);
    // Nothing else left in the directory (no temporary).
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) names.push_back(entry.path().filename());
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"report.json", "shadow"}));
}

// Issue 25: -o onto a full disk lost the whole report. Now the report goes to stdout after one
// line saying why, and the exit status says it failed.
TEST_F(HostileOutputs, AReportThatCannotBeWrittenGoesToStdout) {
    auto cwtrace =
        start_cwtrace({"-d", "1500ms", "--min-age", "0s", "-f", "json", "-o", "/dev/full"});
    if (!cwtrace) return;
    ASSERT_EQ(cwtrace->wait(20s), std::optional<int>(1)) << cwtrace->err();
    EXPECT_TRUE(json::parse(cwtrace->out(), nullptr, false).contains("sockets")) << cwtrace->out();
    EXPECT_NE(cwtrace->err().find("cwtrace: cannot write /dev/full: No space left on device (hint: "
                                  "the report follows on stdout)\n"),
              std::string::npos)
        << cwtrace->err();
}

// A link already there at start is a bad -o: one line naming it, exit 2, nothing written.
TEST_F(HostileOutputs, ALinkAtTheOutputAtStartIsRefused) {
    const fs::path out = dir_ / "report.json";
    fs::create_symlink(secret_, out);
    const RunResult r = run_command({CWTRACE_BIN, "-d", "1s", "-o", out}, 20s);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("'" + out.string() + "' is a symbolic link"), std::string::npos) << r.err;
    expect_secret_unchanged();
}

// Issue 25: control characters reached stderr raw. An environment value carrying a terminal
// title sequence and a bell comes out escaped, as the reports escape it.
TEST_F(HostileOutputs, ControlCharactersReachTheLogEscaped) {
    const RunResult r =
        run_command({"/usr/bin/env", "CWTRACE_STACK_MAP_ENTRIES=\x1b]0;owned\x07\x1b[2J",
                     CWTRACE_BIN, "-d", "200ms"},
                    20s);
    EXPECT_NE(r.err.find("CWTRACE_STACK_MAP_ENTRIES=\\x1b]0;owned\\x07\\x1b[2J"), std::string::npos)
        << r.err;
    EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << "raw ESC on stderr";
    EXPECT_EQ(r.err.find('\x07'), std::string::npos) << "raw BEL on stderr";
}

// Issue 25: the kernel's stack map was never emptied: once its buckets were taken (any user can
// make many distinct stacks), every later stack was lost for the rest of the run. With a map of
// 64 entries, 512 distinct stacks come and go, then a socket leaks through a path of its own:
// the map has made room, and its opening stack is there. That path was taken once before the
// 512 too (-e, from the same call site: the same registers and stack words), its connection
// closed, so that a frame-pointer memo of it named an id the recycling deleted and gave to
// another stack: a memo still answering for the leak would show no stack, or another path's.
TEST_F(HostileOutputs, ManyDistinctStacksLeaveRoomForALateLeak) {
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    ASSERT_GT(port, 0);
    Process maker(
        {FX_STACK_MAKER, "-p", std::to_string(port), "-n", "512", "-w", "30", "-l", "3", "-e"});
    ASSERT_TRUE(maker.wait_line("waiting", 5s)) << maker.err();
    // --pid: only the maker's openings take room in the map, whatever else runs on the host.
    auto cwtrace = start_cwtrace({"--min-age", "1s", "-f", "json", "--user-stacks", "fp", "--pid",
                                  std::to_string(maker.pid())},
                                 {"CWTRACE_STACK_MAP_ENTRIES=64"});
    if (!cwtrace) return;
    maker.signal(SIGUSR1);  // attached: now the openings
    ASSERT_TRUE(maker.wait_line("made", 20s)) << maker.err();
    ASSERT_TRUE(maker.wait_line("ready", 20s)) << maker.err();
    std::this_thread::sleep_for(1500ms);  // past --min-age
    const json report = stop_with_report(*cwtrace);
    const auto leaked = sockets_with_port(report, "remote", port);
    ASSERT_EQ(leaked.size(), 1u) << report.dump(1);
    const auto names = function_names(leaked[0].at("origin").at("user_stack"));
    EXPECT_TRUE(in_order(names, {"connection", "late_leak", "main"})) << joined(names);
    EXPECT_FALSE(contains(names, "branch")) << joined(names);
    EXPECT_NE(cwtrace->err().find("named by nothing deleted"), std::string::npos) << cwtrace->err();
    // Every opening walked: the 512 share their registers (one depth) and differ in their return
    // addresses, and the leak's memo was made before the recycling.
    EXPECT_NE(cwtrace->err().find("frame-pointer memo: 0 openings matched, 514 walked"),
              std::string::npos)
        << cwtrace->err();
}

}  // namespace
