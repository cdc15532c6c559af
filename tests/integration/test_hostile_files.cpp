// A local user plants what cwtrace, as root, reads for it (issue 25): a FIFO as its perf map,
// a FIFO where its mapped executable was, a perf map that is a symlink to a root-only file, a
// 2 GiB sparse perf map, a perf map another user wrote for its pid. Each run must end on time
// (`-d`), still report the user's leaked socket with its owner, and never show the secret or
// the planted names. The fixture runs as `nobody`, from a copy in a directory it owns.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "harness.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr uid_t kNobody = 65534;
constexpr uid_t kAnotherUser = 12345;  // the attacker, when not the fixture's own user
constexpr const char* kSecret = "password=hunter2";
constexpr const char* kPlanted = "planted_by_another_user";
// cwtrace's run, and how long past it the run may take at most (report, symbolization, exit).
constexpr auto kRun = 4s;
constexpr auto kGrace = 12s;

void chown_to(const std::string& path, uid_t uid) {
    ASSERT_EQ(lchown(path.c_str(), uid, static_cast<gid_t>(uid)), 0) << path;
}

class HostileFiles : public ::testing::Test {
  protected:
    void SetUp() override {
        if (geteuid() != 0) return skip_or_fail("needs root, to run a fixture as nobody");
        dir_ = fs::temp_directory_path() / ("cwtrace-hostile-" + std::to_string(getpid()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        fs::permissions(dir_, fs::perms::all);
        app_ = (dir_ / "app").string();
        fs::copy_file(FX_JIT_CLIENT, app_);
        fs::permissions(app_, fs::perms::owner_all | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
        chown_to(dir_.string(), kNobody);
        chown_to(app_, kNobody);
    }
    void TearDown() override {
        if (!perf_map_.empty()) fs::remove(perf_map_);
        if (!dir_.empty()) fs::remove_all(dir_);
    }

    // Runs cwtrace for kRun while the fixture, as nobody, leaks one connection; `plant` runs as
    // soon as the fixture is ready (its perf map written). Returns the report, with failures
    // when cwtrace did not finish on time or the leak is not there with its owner.
    template <typename Plant>
    json run(Plant plant) {
        auto cwtrace = start_cwtrace(
            {"-d", std::to_string(kRun.count()) + "s", "--min-age", "1s", "-f", "json"});
        if (!cwtrace) return {};
        Process peer({FX_PEER, "-l"});
        const int port = announced_port(peer);
        // As root, the shell first removes a file left at the perf map path the fixture will
        // write (its pid, $$, is the fixture's after exec): /tmp's protected_regular would stop
        // the fixture from opening another user's file there.
        Process fixture({"/bin/sh", "-c",
                         "rm -f /tmp/perf-$$.map; exec /usr/bin/setpriv --reuid=65534 "
                         "--regid=65534 --clear-groups -- \"$0\" -p \"$1\" -n 1",
                         app_, std::to_string(port)});
        perf_map_ = "/tmp/perf-" + std::to_string(fixture.pid()) + ".map";
        EXPECT_TRUE(fixture.wait_line("ready", 5s)) << fixture.err();
        plant(fixture.pid());
        const auto status = cwtrace->wait(kRun + kGrace);
        EXPECT_EQ(status, std::optional<int>(0)) << "cwtrace did not finish its -d on time\n"
                                                 << cwtrace->err();
        if (status != 0) return {};
        json report = json::parse(cwtrace->out(), nullptr, false);
        EXPECT_FALSE(report.is_discarded()) << cwtrace->out();
        if (report.is_discarded()) return {};
        const auto sockets = sockets_with_port(report, "remote", port);
        EXPECT_EQ(sockets.size(), 1u);
        for (const auto& s : sockets) {
            EXPECT_EQ(s.at("pid"), fixture.pid());
            EXPECT_EQ(s.at("origin").at("pid"), fixture.pid());
            EXPECT_TRUE(
                contains(function_names(s.at("origin").at("user_stack")), "open_connection"))
                << s.at("origin").at("user_stack").dump();
        }
        output_ = cwtrace->out() + cwtrace->err();
        return report;
    }

    // Replaces the fixture's perf map with what `make` creates at its path, owned by `owner`.
    template <typename Make>
    void replace_perf_map(uid_t owner, Make make) {
        fs::remove(perf_map_);
        make(perf_map_);
        chown_to(perf_map_, owner);
    }

    fs::path dir_;
    std::string app_, perf_map_, output_;
};

// The address the fixture's JIT code is at, from its perf map line "START SIZE NAME".
std::string jit_start(const std::string& perf_map) {
    std::ifstream in(perf_map);
    std::string start;
    in >> start;
    return start;
}

TEST_F(HostileFiles, FifoAsPerfMapDoesNotFreezeTheRun) {
    run([&](pid_t) {
        replace_perf_map(kNobody,
                         [](const std::string& path) { ASSERT_EQ(mkfifo(path.c_str(), 0666), 0); });
    });
}

TEST_F(HostileFiles, MappedExecutableReplacedByFifoDoesNotFreezeTheRun) {
    json report = run([&](pid_t) {
        fs::remove(app_);
        ASSERT_EQ(mkfifo(app_.c_str(), 0755), 0);
        chown_to(app_, kNobody);
    });
    if (HasFailure() || report.is_null()) return;
    // The executable is read through /proc/PID/map_files: its names are still there.
    for (const auto& s : report.at("sockets")) {
        if (s.at("origin").at("pid") == nullptr) continue;
        EXPECT_TRUE(contains(function_names(s.at("origin").at("user_stack")), "main"));
    }
}

TEST_F(HostileFiles, PerfMapSymlinkToARootOnlyFileLeaksNothing) {
    const std::string secret = (fs::temp_directory_path() / "cwtrace-hostile-secret").string();
    run([&](pid_t) {
        // A line shaped like a perf map entry covering the JIT code: read, it names the frame.
        const std::string start = jit_start(perf_map_);
        { std::ofstream(secret) << start << " 100 " << kSecret << "\n"; }
        ASSERT_EQ(chmod(secret.c_str(), 0600), 0);
        replace_perf_map(kNobody,
                         [&](const std::string& path) { fs::create_symlink(secret, path); });
    });
    fs::remove(secret);
    EXPECT_EQ(output_.find(kSecret), std::string::npos) << output_;
}

TEST_F(HostileFiles, HugeSparsePerfMapIsNotReadInto) {
    run([&](pid_t) {
        const std::string line = jit_start(perf_map_) + " 100 huge_map_name\n";
        replace_perf_map(kNobody, [&](const std::string& path) {
            std::ofstream(path) << line;
            fs::resize_file(path, uint64_t{2} << 30);
        });
    });
    rusage usage{};
    ASSERT_EQ(getrusage(RUSAGE_CHILDREN, &usage), 0);
    EXPECT_LT(usage.ru_maxrss, 1 << 20) << "KB: cwtrace read the 2 GiB map into memory";
    EXPECT_EQ(output_.find("huge_map_name"), std::string::npos);
}

TEST_F(HostileFiles, AnotherUsersPerfMapForThisPidNamesNothing) {
    run([&](pid_t) {
        const std::string line = jit_start(perf_map_) + " 100 " + kPlanted + "\n";
        replace_perf_map(kAnotherUser,
                         [&](const std::string& path) { std::ofstream(path) << line; });
    });
    EXPECT_EQ(output_.find(kPlanted), std::string::npos) << output_;
}

}  // namespace
