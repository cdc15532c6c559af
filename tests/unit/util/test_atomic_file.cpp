// util/atomic_file: what another account may plant in a directory cwtrace writes to is never
// followed, and a failed write leaves the target as it was.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "metrics/metrics_textfile.h"
#include "util/atomic_file.h"

namespace cwtrace {
namespace {

namespace fs = std::filesystem;

std::string read_all(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

void write_all(const fs::path& path, const std::string& text, mode_t mode) {
    std::ofstream(path) << text;
    ASSERT_EQ(chmod(path.c_str(), mode), 0);
}

mode_t mode_of(const fs::path& path) {
    struct stat st = {};
    return lstat(path.c_str(), &st) == 0 ? st.st_mode : 0;
}

std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
    std::sort(names.begin(), names.end());
    return names;
}

class AtomicFileTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/cwtrace-atomic-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        secret_ = dir_ / "secret";
        write_all(secret_, "password=hunter2\n", 0600);
    }
    void TearDown() override { fs::remove_all(dir_); }

    fs::path dir_, secret_;
};

TEST_F(AtomicFileTest, WritesTheBytesAs0600AndLeavesNoTemporary) {
    ASSERT_TRUE(write_file_atomically(dir_ / "report.json", "{}\n"));
    EXPECT_EQ(read_all(dir_ / "report.json"), "{}\n");
    EXPECT_EQ(mode_of(dir_ / "report.json"), S_IFREG | 0600);
    EXPECT_EQ(names_in(dir_), (std::vector<std::string>{"report.json", "secret"}));
}

// A link planted at the target is replaced: the file it names keeps its bytes and mode.
TEST_F(AtomicFileTest, ReplacesASymlinkAtTheTargetWithoutFollowingIt) {
    fs::create_symlink(secret_, dir_ / "report.json");
    ASSERT_TRUE(write_file_atomically(dir_ / "report.json", "{}\n"));
    EXPECT_EQ(read_all(secret_), "password=hunter2\n");
    EXPECT_EQ(mode_of(secret_), S_IFREG | 0600);
    EXPECT_EQ(mode_of(dir_ / "report.json"), S_IFREG | 0600);
    EXPECT_EQ(read_all(dir_ / "report.json"), "{}\n");
}

// The target is replaced by a new file, never written in place: another name for the old one
// (a hard link) still reads the old bytes.
TEST_F(AtomicFileTest, ReplacesTheTargetRatherThanWritingIntoIt) {
    write_all(dir_ / "report.json", "old\n", 0644);
    fs::create_hard_link(dir_ / "report.json", dir_ / "other-name");
    ASSERT_TRUE(write_file_atomically(dir_ / "report.json", "new\n"));
    EXPECT_EQ(read_all(dir_ / "other-name"), "old\n");
    EXPECT_EQ(read_all(dir_ / "report.json"), "new\n");
}

// Not committed (the run failed while writing): the target keeps its bytes, nothing is left.
TEST_F(AtomicFileTest, AnUncommittedFileLeavesTheTargetAsItWas) {
    write_all(dir_ / "report.json", "old\n", 0600);
    {
        auto file = AtomicFile::open(dir_ / "report.json");
        ASSERT_TRUE(file);
        EXPECT_TRUE(file->write(std::string(200'000, 'x')));
    }
    EXPECT_EQ(read_all(dir_ / "report.json"), "old\n");
    EXPECT_EQ(names_in(dir_), (std::vector<std::string>{"report.json", "secret"}));
}

// A character device is written in place, and its failure is the writer's: /dev/full stays a
// device, the error names it and the reason.
TEST_F(AtomicFileTest, AFullDeviceFailsWithItsReason) {
    auto written = write_file_atomically("/dev/full", std::string(100'000, 'x'));
    ASSERT_FALSE(written);
    EXPECT_EQ(written.error().message, "cannot write /dev/full: No space left on device");
    EXPECT_TRUE(S_ISCHR(mode_of("/dev/full")));
}

TEST_F(AtomicFileTest, AMissingDirectoryIsNamed) {
    auto written = write_file_atomically(dir_ / "gone" / "report.json", "{}\n");
    ASSERT_FALSE(written);
    EXPECT_EQ(written.error().message, "cannot write " + (dir_ / "gone" / "report.json").string() +
                                           ": No such file or directory");
}

// Issue 25: a symlink at DIR/cwtrace.prom.tmp (the name cwtrace used as its temporary) made the
// textfile writer overwrite the file it named. Now it is not looked at; the textfile is 0644,
// for node_exporter's collector running as its own user.
TEST_F(AtomicFileTest, TheTextfileNeverWritesThroughAPlantedTemporary) {
    fs::create_symlink(secret_, dir_ / "cwtrace.prom.tmp");
    ASSERT_TRUE(write_textfile_atomically(dir_ / "cwtrace.prom", "cwtrace_up 1\n"));
    EXPECT_EQ(read_all(secret_), "password=hunter2\n");
    EXPECT_EQ(read_all(dir_ / "cwtrace.prom"), "cwtrace_up 1\n");
    EXPECT_EQ(mode_of(dir_ / "cwtrace.prom"), S_IFREG | 0644);
    EXPECT_TRUE(fs::is_symlink(dir_ / "cwtrace.prom.tmp"));  // not ours to remove
}

TEST_F(AtomicFileTest, TheTextfileReplacesASymlinkAtItsPath) {
    fs::create_symlink(secret_, dir_ / "cwtrace.prom");
    ASSERT_TRUE(write_textfile_atomically(dir_ / "cwtrace.prom", "cwtrace_up 1\n"));
    EXPECT_EQ(read_all(secret_), "password=hunter2\n");
    EXPECT_EQ(read_all(dir_ / "cwtrace.prom"), "cwtrace_up 1\n");
}

}  // namespace
}  // namespace cwtrace
