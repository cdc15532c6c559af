// What a process controls, read with bounds and perf's rules: its perf map (owner, symlink,
// FIFO, size, entries), its maps (bytes, mappings, shared between forks), its mapped files (a
// deleted one is never reopened by path; a replaced one is refused).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "symbols/perf_map.h"
#include "symbols/usyms.h"
#include "util/lru_cache.h"

namespace cwtrace {
namespace {

namespace fs = std::filesystem;

// This test process's own /tmp/perf-PID.map, as a JIT would write it; removed after.
class OwnPerfMap : public ::testing::Test {
  protected:
    void SetUp() override {
        path_ = PerfMap::path_for(getpid());
        fs::remove(path_);
        auto maps = ProcessMaps::read(getpid());
        ASSERT_TRUE(maps);
        maps_ = std::move(*maps);
    }
    void TearDown() override {
        fs::remove(path_);
        fs::remove(path_ + ".target");
    }
    void write(const std::string& text) { std::ofstream(path_) << text; }
    std::optional<PerfMap> load(const PerfMapLimits& limits = {}) {
        return PerfMap::load(maps_, true, limits);
    }

    std::string path_;
    ProcessMaps maps_;
};

TEST_F(OwnPerfMap, ReadFromTheProcessRootWhenItsUserOwnsIt) {
    write("7f0000001000 40 jitted\n");
    auto map = load();
    ASSERT_TRUE(map);
    EXPECT_EQ(map->lookup(0x7f0000001010), "jitted");
}

TEST_F(OwnPerfMap, SymlinkToARootOnlyFileYieldsNothing) {
    std::ofstream(path_ + ".target") << "1000 10 password=hunter2\n";
    fs::permissions(path_ + ".target", fs::perms::owner_read | fs::perms::owner_write);
    fs::create_symlink(path_ + ".target", path_);
    EXPECT_FALSE(load());
}

TEST_F(OwnPerfMap, FifoYieldsNothingAtOnce) {
    ASSERT_EQ(mkfifo(path_.c_str(), 0666), 0);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(load());
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

// Another user's file at this process's perf map path: planted names are not its names.
TEST_F(OwnPerfMap, AnotherUsersFileIsRefused) {
    write("7f0000001000 40 planted\n");
    if (geteuid() != 0) {
        // Unprivileged: the test can only make the process's uids unlike the file's owner.
        ProcessMaps other = ProcessMaps::parse("");
        EXPECT_FALSE(PerfMap::load(other, true)) << "no uid known: root only";
        GTEST_SKIP() << "chown needs root";
    }
    ASSERT_EQ(chown(path_.c_str(), 12345, static_cast<gid_t>(-1)), 0);
    EXPECT_FALSE(load());
    ASSERT_EQ(chown(path_.c_str(), 0, static_cast<gid_t>(-1)), 0);
    EXPECT_TRUE(load()) << "root's file is accepted, as perf does";
}

TEST_F(OwnPerfMap, OverTheByteOrEntryCapYieldsNothing) {
    write("1000 10 a\n2000 10 b\n3000 10 c\n");
    PerfMapLimits limits;
    limits.max_bytes = 29;
    EXPECT_FALSE(load(limits));
    limits.max_bytes = 30;
    limits.max_entries = 2;
    EXPECT_FALSE(load(limits));
    limits.max_entries = 3;
    EXPECT_TRUE(load(limits));
}

TEST(PerfMapLimitsTest, LongNamesAreCut) {
    PerfMapLimits limits;
    limits.max_name_bytes = 4;
    auto map = PerfMap::parse("1000 10 abcdefgh\n", limits);
    ASSERT_TRUE(map);
    EXPECT_EQ(map->lookup(0x1000), "abcd");
}

// ---------------------------------------------------------------- maps

std::string maps_line(uint64_t start, const std::string& path) {
    char line[128];
    std::snprintf(line, sizeof line, "%lx-%lx r-xp 00000000 fd:01 77 ", start, start + 0x1000);
    return line + path + "\n";
}

TEST(MapsBoundsTest, MappingsPastTheCapAreCutAndPathsInterned) {
    std::string text;
    const std::string path = "/opt/" + std::string(3500, 'x') + "/lib.so";
    for (uint64_t i = 0; i < 100; ++i) text += maps_line(0x10000 + i * 0x1000, path);
    MapsLimits limits;
    limits.max_mappings = 10;
    ProcessMaps maps = ProcessMaps::parse(text, limits);
    EXPECT_EQ(maps.mappings().size(), 10u);
    EXPECT_TRUE(maps.table().truncated);
    EXPECT_EQ(maps.table().paths.size(), 1u);  // one copy of the 3.5 KB path
    EXPECT_EQ(maps.mappings()[3].path, path);
    EXPECT_EQ(maps.mappings()[0].file, (FileIdentity{makedev(0xfd, 1), 77}));
    EXPECT_FALSE(ProcessMaps::parse(text).table().truncated);
}

TEST(MapsBoundsTest, ReadStopsAtTheByteCapOnAWholeLine) {
    MapsLimits limits;
    limits.max_bytes = 4096;
    auto maps = ProcessMaps::read(getpid(), limits);
    ASSERT_TRUE(maps);
    auto whole = ProcessMaps::read(getpid());
    ASSERT_TRUE(whole);
    EXPECT_FALSE(whole->table().truncated);
    // The test binary maps far more than 4 KB of maps text.
    EXPECT_TRUE(maps->table().truncated);
    EXPECT_LT(maps->mappings().size(), whole->mappings().size());
    EXPECT_EQ(maps->uids().size(), 4u);
    EXPECT_EQ(maps->namespace_pid(), getpid());
}

TEST(MapsBoundsTest, SameMappingsShareOneTable) {
    ProcessMapsReader reader;
    auto first = reader.read(getpid());
    auto second = reader.read(getpid());
    ASSERT_TRUE(first && second);
    EXPECT_EQ(first->shared_table(), second->shared_table());
    EXPECT_EQ(reader.shared(), 1u);
}

// The path of a deleted mapping names another file now: it is never opened.
TEST(MappedFileTest, DeletedIsNeverReopenedByPath) {
    const fs::path file = fs::temp_directory_path() / ("cwtrace-del-" + std::to_string(getpid()));
    std::ofstream(file) << "x";
    struct stat st;
    ASSERT_EQ(stat(file.c_str(), &st), 0);
    char line[256];
    std::snprintf(line, sizeof line, "1000-2000 r-xp 00000000 %x:%x %lu %s (deleted)\n",
                  major(st.st_dev), minor(st.st_dev), static_cast<unsigned long>(st.st_ino),
                  file.c_str());
    ProcessMaps deleted = ProcessMaps::parse(line);
    ASSERT_EQ(deleted.mappings().size(), 1u);
    EXPECT_TRUE(deleted.mappings()[0].deleted);
    EXPECT_FALSE(deleted.open_file(deleted.mappings()[0], 1024));
    EXPECT_EQ(deleted.open_path(deleted.mappings()[0]), "");

    std::string kept = line;
    kept.erase(kept.find(" (deleted)"));
    ProcessMaps live = ProcessMaps::parse(kept);
    EXPECT_TRUE(live.open_file(live.mappings()[0], 1024)) << "the same dev:inode is opened";
    // Made while the first still exists, so it cannot reuse its inode, then put in its place.
    std::ofstream(file.string() + ".new") << "another file at the same path";
    fs::rename(file.string() + ".new", file);
    OpenedFile replaced = live.open_file(live.mappings()[0], 1024);
    fs::remove(file);
    EXPECT_EQ(replaced.refusal, Refusal::Replaced) << replaced.reason;
}

TEST(LruCacheTest, DropsTheLeastRecentlyUsed) {
    LruCache<int, std::string> cache(2);
    cache.insert(1, "one");
    cache.insert(2, "two");
    ASSERT_NE(cache.find(1), nullptr);  // 1 is now the most recent
    cache.insert(3, "three");
    EXPECT_EQ(cache.find(2), nullptr);
    EXPECT_EQ(*cache.find(1), "one");
    EXPECT_EQ(*cache.find(3), "three");
    EXPECT_EQ(cache.size(), 2u);
    EXPECT_EQ(cache.evictions(), 1u);
}

}  // namespace
}  // namespace cwtrace
