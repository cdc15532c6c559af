// The one way files a process names are opened: what it refuses, that it never blocks, and
// what it reads.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "util/untrusted_file.h"

namespace cwtrace {
namespace {

namespace fs = std::filesystem;

class UntrustedFileTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("cwtrace-untrusted-" + std::to_string(getpid()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::string write(const std::string& name, const std::string& text) {
        const std::string path = (dir_ / name).string();
        std::ofstream(path) << text;
        return path;
    }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }

    fs::path dir_;
};

// What opening `path` under `rules` did, timed: a refusal must come at once.
struct Outcome {
    OpenedFile opened;
    double seconds;
};

Outcome open_timed(const std::string& path, const FileRules& rules, int dir_fd = -1,
                   bool in_root = false) {
    const auto start = std::chrono::steady_clock::now();
    OpenedFile opened = UntrustedFile::open(path, rules, dir_fd, in_root);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    return {std::move(opened), took.count()};
}

TEST_F(UntrustedFileTest, ReadsARegularFileWhole) {
    const std::string file = write("ok", "7f00 10 name\n");
    OpenedFile opened = UntrustedFile::open(file, capped_at(1024));
    ASSERT_TRUE(opened) << opened.reason;
    EXPECT_EQ(opened.file->size(), 13u);
    EXPECT_EQ(opened.file->read_all(), "7f00 10 name\n");
}

TEST_F(UntrustedFileTest, FifoWithoutWriterIsRefusedAtOnce) {
    ASSERT_EQ(mkfifo(path("fifo").c_str(), 0666), 0);
    const uint64_t before = untrusted_file_stats().refused[1].load();
    Outcome out = open_timed(path("fifo"), capped_at(1024));
    EXPECT_FALSE(out.opened);
    EXPECT_EQ(out.opened.refusal, Refusal::NotRegular);
    EXPECT_NE(out.opened.reason.find("a FIFO"), std::string::npos) << out.opened.reason;
    EXPECT_LT(out.seconds, 1.0);
    EXPECT_EQ(untrusted_file_stats().refused[1].load(), before + 1);
}

TEST_F(UntrustedFileTest, SymlinkIsNotFollowedEvenToARegularFile) {
    const std::string target = write("secret", "1 1 password=hunter2\n");
    fs::create_symlink(target, path("link"));
    OpenedFile opened = UntrustedFile::open(path("link"), capped_at(1024));
    EXPECT_FALSE(opened);
    EXPECT_EQ(opened.refusal, Refusal::NotRegular);
    EXPECT_NE(opened.reason.find("symlink"), std::string::npos) << opened.reason;
    EXPECT_EQ(opened.reason.find("hunter2"), std::string::npos);
}

TEST_F(UntrustedFileTest, DirectoryAndDevicesAreRefused) {
    OpenedFile dir = UntrustedFile::open(dir_.string(), capped_at(1024));
    EXPECT_EQ(dir.refusal, Refusal::NotRegular);
    EXPECT_NE(dir.reason.find("a directory"), std::string::npos) << dir.reason;
    Outcome zero = open_timed("/dev/zero", capped_at(1024));
    EXPECT_EQ(zero.opened.refusal, Refusal::NotRegular);
    EXPECT_NE(zero.opened.reason.find("a character device"), std::string::npos);
    EXPECT_LT(zero.seconds, 1.0);
}

TEST_F(UntrustedFileTest, OversizedSparseFileIsRefusedWithoutReading) {
    const std::string file = path("huge");
    { std::ofstream(file) << ""; }
    fs::resize_file(file, uint64_t{2} << 30);  // sparse: 2 GiB of nothing
    Outcome out = open_timed(file, capped_at(64 << 20));
    EXPECT_FALSE(out.opened);
    EXPECT_EQ(out.opened.refusal, Refusal::TooLarge);
    EXPECT_NE(out.opened.reason.find("2147483648 bytes"), std::string::npos) << out.opened.reason;
    EXPECT_LT(out.seconds, 1.0);
    // At the cap exactly it is read.
    EXPECT_TRUE(UntrustedFile::open(file, capped_at(uint64_t{2} << 30)));
}

TEST_F(UntrustedFileTest, MissingIsNoRefusalAndNotCounted) {
    const uint64_t before = untrusted_file_stats().total();
    OpenedFile opened = UntrustedFile::open(path("absent"), capped_at(1024));
    EXPECT_EQ(opened.refusal, Refusal::Missing);
    EXPECT_EQ(untrusted_file_stats().total(), before);
}

// Root may own the file, or one of the users named; nobody else.
TEST_F(UntrustedFileTest, OwnerMustBeRootOrOneNamed) {
    const std::string file = write("owned", "x\n");
    uid_t owner = geteuid();
    if (owner == 0) {
        owner = 12345;
        ASSERT_EQ(chown(file.c_str(), owner, static_cast<gid_t>(-1)), 0);
    }
    FileRules rules = capped_at(1024);
    rules.owners = {owner + 1};
    OpenedFile other = UntrustedFile::open(file, rules);
    EXPECT_EQ(other.refusal, Refusal::WrongOwner);
    EXPECT_NE(other.reason.find("uid " + std::to_string(owner)), std::string::npos);
    rules.owners = {owner + 1, owner};
    EXPECT_TRUE(UntrustedFile::open(file, rules));
}

TEST_F(UntrustedFileTest, AnotherFileThanTheOneMappedIsReplaced) {
    const std::string file = write("lib.so", "x\n");
    struct stat st;
    ASSERT_EQ(stat(file.c_str(), &st), 0);
    FileRules rules = capped_at(1024);
    rules.identity = FileIdentity{st.st_dev, st.st_ino};
    EXPECT_TRUE(UntrustedFile::open(file, rules));
    rules.identity = FileIdentity{st.st_dev, st.st_ino + 1};
    EXPECT_EQ(UntrustedFile::open(file, rules).refusal, Refusal::Replaced);
}

// A container's /tmp that is a symlink to /etc stays inside the container's root.
TEST_F(UntrustedFileTest, InRootResolvesSymlinksInsideTheRoot) {
    fs::create_directories(dir_ / "etc");
    write("etc/hostname", "inside\n");
    fs::create_symlink("/etc", dir_ / "tmp");
    const int root = ::open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(root, 0);
    OpenedFile opened = UntrustedFile::open("/tmp/hostname", capped_at(1024), root, true);
    OpenedFile escape = UntrustedFile::open("/../../../etc/passwd", capped_at(1 << 20), root, true);
    ::close(root);
    ASSERT_TRUE(opened) << opened.reason;
    EXPECT_EQ(opened.file->read_all(), "inside\n");
    EXPECT_EQ(escape.refusal, Refusal::Missing) << escape.reason;
}

TEST(UntrustedFileStatsTest, SummaryNamesEachCause) {
    UntrustedFileStats stats;
    EXPECT_EQ(stats.summary(), "");
    stats.refused[static_cast<size_t>(Refusal::NotRegular)] = 2;
    stats.refused[static_cast<size_t>(Refusal::TooLarge)] = 1;
    stats.refused[static_cast<size_t>(Refusal::Missing)] = 9;
    EXPECT_EQ(stats.summary(), "2 not a regular file, 1 too large");
    EXPECT_EQ(stats.total(), 3u);
}

}  // namespace
}  // namespace cwtrace
