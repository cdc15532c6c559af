#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "symbols/ksyms.h"
#include "symbols/usyms.h"

#ifndef CWTRACE_SYMBOLIZE_FIXTURE
#error "CWTRACE_SYMBOLIZE_FIXTURE must name the built symbolize_fixture binary"
#endif

extern char** environ;

namespace cwtrace {
namespace {

// ---------------------------------------------------------------- kernel symbols

constexpr std::string_view kKallsyms =
    "ffffffff81000000 T _stext\n"
    "ffffffff81001000 t helper_one\n"
    "ffffffff81001100 D some_data\n"
    "0000000000000000 T hidden_by_kptr_restrict\n"
    "ffffffff81002000 W weak_fn\n"
    "ffffffffc0a01000 t mod_fn\t[my_module]\n"
    "ffffffffc0a02000 T mod_fn2 [other_mod]\n";

TEST(KernelSymbolsTest, ParsesTextSymbolsAndLooksUpByAddress) {
    KernelSymbols ks = KernelSymbols::parse(kKallsyms);
    // The data symbol and the zero-address line are dropped.
    EXPECT_EQ(ks.size(), 5u);
    EXPECT_EQ(ks.lookup(0xffffffff81000000), "_stext");      // exactly at the start
    EXPECT_EQ(ks.lookup(0xffffffff81000abc), "_stext");      // inside
    EXPECT_EQ(ks.lookup(0xffffffff81001100), "helper_one");  // data symbol not a boundary
    EXPECT_EQ(ks.lookup(0xffffffff81002010), "weak_fn");     // W kept
    EXPECT_EQ(ks.lookup(0xffffffffc0a01010), "mod_fn");      // module column stripped
    EXPECT_EQ(ks.lookup(0xffffffffc0a02000), "mod_fn2");     // space-separated module too
    EXPECT_EQ(ks.lookup(0xffffffff80ffffff), std::nullopt);  // below the first symbol
    EXPECT_EQ(ks.lookup(0), std::nullopt);                   // zero line did not register
}

TEST(KernelSymbolsTest, SkipsMalformedLinesAndHandlesEmptyInput) {
    KernelSymbols empty = KernelSymbols::parse("");
    EXPECT_EQ(empty.size(), 0u);
    EXPECT_EQ(empty.lookup(0xffffffff81000000), std::nullopt);

    KernelSymbols ks = KernelSymbols::parse(
        "garbage\n"
        "zzzz T not_hex\n"
        "ffffffff81000000\n"
        "ffffffff81000000 T\n"
        "ffffffff81000000 TT two_letter_type\n"
        "1ffffffffffffffff T overflow\n"
        "\n"
        "ffffffff81000010 T good\r\n"
        "ffffffff81000020 t truncated_no_newline");
    EXPECT_EQ(ks.size(), 2u);
    EXPECT_EQ(ks.lookup(0xffffffff81000018), "good");
    EXPECT_EQ(ks.lookup(0xffffffff81000020), "truncated_no_newline");
}

TEST(KernelSymbolsTest, LoadOfMissingFileIsEmpty) {
    KernelSymbols ks = KernelSymbols::load("/nonexistent/cwtrace/kallsyms");
    EXPECT_EQ(ks.size(), 0u);
    EXPECT_EQ(ks.lookup(0xffffffff81000000), std::nullopt);
}

// The address of `name` in kallsyms, found independently of KernelSymbols.
std::optional<uint64_t> kallsyms_address(const std::string& name) {
    std::ifstream in("/proc/kallsyms");
    std::string line;
    while (std::getline(in, line)) {
        if (line.find(name) == std::string::npos) continue;  // cheap pre-filter: 100k+ lines
        std::istringstream fields(line);
        std::string addr, type, sym;
        if (fields >> addr >> type >> sym && sym == name) return std::stoull(addr, nullptr, 16);
    }
    return std::nullopt;
}

TEST(KernelSymbolsTest, LoadsProcKallsyms) {
    auto addr = kallsyms_address("tcp_v4_connect");
    if (!addr || *addr == 0) GTEST_SKIP() << "tcp_v4_connect not visible (kptr_restrict?)";
    KernelSymbols ks = KernelSymbols::load("/proc/kallsyms");
    EXPECT_GT(ks.size(), 1000u);
    EXPECT_EQ(ks.lookup(*addr), "tcp_v4_connect");
    EXPECT_EQ(ks.lookup(*addr + 1), "tcp_v4_connect");
}

// ---------------------------------------------------------------- process maps

constexpr std::string_view kMaps =
    "55d0c6a0c000-55d0c6a0e000 r--p 00000000 fd:01 1234                       /usr/bin/app\n"
    "55d0c6a0e000-55d0c6a12000 r-xp 00002000 fd:01 1234                       /usr/bin/app\n"
    "55d0c6a12000-55d0c6a14000 rw-p 00006000 fd:01 1234                       /usr/bin/app\n"
    "55d0c7000000-55d0c7021000 rw-p 00000000 00:00 0                          [heap]\n"
    "7f0000000000-7f0000001000 r-xp 00000000 00:00 0 \n"
    "7f1000000000-7f1000010000 r-xp 00028000 fd:01 999                        "
    "/opt/lib/libgone.so (deleted)\n"
    "7f2000000000-7f2000004000 r-xp 00001000 fd:01 42  /opt/my dir/libspace.so\n"
    "7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0                          [vdso]\n";

TEST(ProcessMapsTest, KeepsOnlyExecutableFileMappings) {
    ProcessMaps maps = ProcessMaps::parse(kMaps);
    ASSERT_EQ(maps.mappings().size(), 3u);
    const Mapping& app = maps.mappings()[0];
    EXPECT_EQ(app.start, 0x55d0c6a0e000u);
    EXPECT_EQ(app.end, 0x55d0c6a12000u);
    EXPECT_EQ(app.file_offset, 0x2000u);
    EXPECT_EQ(app.path, "/usr/bin/app");
    EXPECT_EQ(maps.mappings()[1].path, "/opt/lib/libgone.so");
    EXPECT_EQ(maps.mappings()[1].file_offset, 0x28000u);
    EXPECT_EQ(maps.mappings()[2].path, "/opt/my dir/libspace.so");
}

TEST(ProcessMapsTest, FindHitsAndMissesAtBoundaries) {
    ProcessMaps maps = ProcessMaps::parse(kMaps);
    const Mapping* first = maps.find(0x55d0c6a0e000);
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(first->path, "/usr/bin/app");
    EXPECT_EQ(maps.find(0x55d0c6a11fff), first);    // last byte
    EXPECT_EQ(maps.find(0x55d0c6a12000), nullptr);  // end is exclusive
    EXPECT_EQ(maps.find(0x55d0c6a0dfff), nullptr);  // the r--p mapping was dropped
    EXPECT_EQ(maps.find(0x7f0000000800), nullptr);  // anonymous executable dropped
    EXPECT_EQ(maps.find(0x7ffd00000000), nullptr);  // [vdso] dropped
    EXPECT_EQ(maps.find(0), nullptr);
    EXPECT_EQ(maps.find(UINT64_MAX), nullptr);
    ASSERT_NE(maps.find(0x7f1000000000), nullptr);
    EXPECT_EQ(maps.find(0x7f1000000000)->path, "/opt/lib/libgone.so");
}

TEST(ProcessMapsTest, SkipsMalformedLines) {
    ProcessMaps maps = ProcessMaps::parse(
        "garbage\n"
        "1000-2000\n"
        "1000-2000 r-xp\n"
        "3000-2000 r-xp 00000000 fd:01 1 /backwards\n"
        "zz-4000 r-xp 00000000 fd:01 1 /badhex\n"
        "5000-6000 r-xp nothex fd:01 1 /badoffset\n"
        "7000-8000 r-xp 00000000 fd:01 1\n"
        "9000-a000 r-xp 00000000 fd:01 1 /ok");
    ASSERT_EQ(maps.mappings().size(), 1u);
    EXPECT_EQ(maps.mappings()[0].path, "/ok");
    EXPECT_EQ(ProcessMaps::parse("").mappings().size(), 0u);
}

// ---------------------------------------------------------------- ELF and user frames

// The symbolize fixture, running and paused until finish(); its printed addresses by key.
class Fixture {
  public:
    ~Fixture() { finish(); }

    bool start() {
        int to_child[2], from_child[2];
        if (pipe2(to_child, O_CLOEXEC) != 0) return false;
        if (pipe2(from_child, O_CLOEXEC) != 0) return false;
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, to_child[0], STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&actions, from_child[1], STDOUT_FILENO);
        char* argv[] = {const_cast<char*>(CWTRACE_SYMBOLIZE_FIXTURE), nullptr};
        int rc = posix_spawn(&pid_, CWTRACE_SYMBOLIZE_FIXTURE, &actions, nullptr, argv, environ);
        posix_spawn_file_actions_destroy(&actions);
        close(to_child[0]);
        close(from_child[1]);
        to_child_ = to_child[1];
        from_child_ = fdopen(from_child[0], "r");
        if (rc != 0) {
            pid_ = -1;
            return false;
        }
        return from_child_ != nullptr && read_addresses();
    }

    // Lets the fixture exit and reaps it.
    void finish() {
        if (to_child_ >= 0) close(to_child_);
        to_child_ = -1;
        if (from_child_) fclose(from_child_);
        from_child_ = nullptr;
        if (pid_ > 0) waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

    pid_t pid() const { return pid_; }
    bool has(const std::string& key) const { return addresses_.count(key) > 0; }
    uint64_t address(const std::string& key) const { return addresses_.at(key); }

  private:
    bool read_addresses() {
        char line[256];
        while (fgets(line, sizeof line, from_child_)) {
            std::istringstream fields(line);
            std::string key, value;
            fields >> key;
            if (key == "ready") return true;
            if (fields >> value) addresses_[key] = std::stoull(value, nullptr, 16);
        }
        return false;
    }

    pid_t pid_ = -1;
    int to_child_ = -1;
    FILE* from_child_ = nullptr;
    std::map<std::string, uint64_t> addresses_;
};

std::string fixture_path() {
    return std::filesystem::canonical(CWTRACE_SYMBOLIZE_FIXTURE).string();
}

TEST(UserSymbolizerTest, ResolvesLiveFixtureFunctionsAndAfterExit) {
    Fixture fx;
    ASSERT_TRUE(fx.start());
    pid_t pid = fx.pid();
    auto maps = ProcessMaps::read(pid);
    ASSERT_TRUE(maps.has_value());

    UserSymbolizer sym;
    const std::string module = fixture_path();
    for (const auto& [key, name] :
         {std::pair{"alpha", "cw_fixture_alpha"}, std::pair{"alpha_mid", "cw_fixture_alpha"},
          std::pair{"beta", "cw_fixture_beta"}}) {
        Frame f = sym.symbolize(*maps, fx.address(key));
        EXPECT_EQ(f.function, name) << key;
        EXPECT_EQ(f.module, module) << key;
    }

    fx.finish();
    EXPECT_EQ(ProcessMaps::read(pid), std::nullopt);
    // A fresh symbolizer proves the ELF is read from the file, not from the gone process.
    UserSymbolizer fresh;
    Frame f = fresh.symbolize(*maps, fx.address("alpha_mid"));
    EXPECT_EQ(f.function, "cw_fixture_alpha");
    EXPECT_EQ(f.module, module);
    EXPECT_EQ(sym.symbolize(*maps, fx.address("beta")).function, "cw_fixture_beta");
}

// What names a frame later, where cwtrace could not: its address, its offset in the file (the
// mapping's offset plus the distance from its start) and the build id the fixture was linked with.
TEST(UserSymbolizerTest, FramesKeepAddressFileOffsetAndBuildId) {
    Fixture fx;
    ASSERT_TRUE(fx.start());
    auto maps = ProcessMaps::read(fx.pid());
    ASSERT_TRUE(maps.has_value());
    const uint64_t addr = fx.address("alpha_mid");
    const Mapping* m = maps->find(addr);
    ASSERT_NE(m, nullptr);
    UserSymbolizer sym;
    Frame f = sym.symbolize(*maps, addr);
    EXPECT_EQ(f.function, "cw_fixture_alpha");
    EXPECT_EQ(f.address, addr);
    EXPECT_EQ(f.file_offset, addr - m->start + m->file_offset);
    EXPECT_EQ(f.build_id, "c0ffee00112233445566778899aabbccddeeff00");
    // The fixture's file offset names the same function in the file alone: what a later
    // symbolizer does with it.
    auto elf = ElfSymbols::load(fixture_path());
    ASSERT_TRUE(elf.has_value());
    auto vaddr = elf->offset_to_vaddr(*f.file_offset);
    ASSERT_TRUE(vaddr.has_value());
    EXPECT_EQ(elf->lookup(*vaddr), "cw_fixture_alpha");
}

TEST(UserSymbolizerTest, ResolvesLibcFunction) {
    Fixture fx;
    ASSERT_TRUE(fx.start());
    auto maps = ProcessMaps::read(fx.pid());
    ASSERT_TRUE(maps.has_value());
    UserSymbolizer sym;
    Frame f = sym.symbolize(*maps, fx.address("getpid"));
    EXPECT_NE(f.module.find("libc"), std::string::npos) << f.module;
    // The public name wins over glibc's internal alias "__getpid" at the same address.
    EXPECT_EQ(f.function, "getpid");
}

TEST(UserSymbolizerTest, DemanglesCppNames) {
    Fixture fx;
    ASSERT_TRUE(fx.start());
    auto maps = ProcessMaps::read(fx.pid());
    ASSERT_TRUE(maps.has_value());
    UserSymbolizer sym;
    EXPECT_EQ(sym.symbolize(*maps, fx.address("mangled")).function, "cw::fixture::mangled(int)");
}

TEST(UserSymbolizerTest, ResolvesSymbolWithoutSize) {
    Fixture fx;
    ASSERT_TRUE(fx.start());
    if (!fx.has("nosize_mid")) GTEST_SKIP() << "fixture has no size-0 symbol on this arch";
    auto maps = ProcessMaps::read(fx.pid());
    ASSERT_TRUE(maps.has_value());
    UserSymbolizer sym;
    EXPECT_EQ(sym.symbolize(*maps, fx.address("nosize_mid")).function, "cw_fixture_nosize");
}

TEST(UserSymbolizerTest, AddressOutsideEveryMappingIsUnknown) {
    ProcessMaps maps = ProcessMaps::parse(kMaps);
    UserSymbolizer sym;
    Frame f = sym.symbolize(maps, 0x1000);
    EXPECT_EQ(f.function, "[unknown]");
    EXPECT_EQ(f.module, "");
}

TEST(UserSymbolizerTest, UnloadableFileKeepsModule) {
    ProcessMaps maps = ProcessMaps::parse(
        "7f1000000000-7f1000010000 r-xp 00028000 fd:01 999 /nonexistent/libgone.so (deleted)\n");
    UserSymbolizer sym;
    for (int i = 0; i < 2; ++i) {  // the second call goes through the cached failure
        Frame f = sym.symbolize(maps, 0x7f1000000100);
        EXPECT_EQ(f.function, "[unknown]");
        EXPECT_EQ(f.module, "/nonexistent/libgone.so");
        // Unnamed here, it can still be named later from the file.
        EXPECT_EQ(f.address, 0x7f1000000100u);
        EXPECT_EQ(f.file_offset, 0x28100u);
        EXPECT_EQ(f.build_id, "");
    }
}

TEST(ElfSymbolsTest, RejectsNonElfAndMissingFiles) {
    EXPECT_EQ(ElfSymbols::load("/nonexistent/cwtrace/file").has_value(), false);
    EXPECT_EQ(ElfSymbols::load("/").has_value(), false);

    char text_path[] = "/tmp/cwtrace_symbolize_XXXXXX";
    int fd = mkstemp(text_path);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(ElfSymbols::load(text_path).has_value(), false);  // empty file
    const char text[] = "this is not an ELF file\n";
    ASSERT_EQ(write(fd, text, sizeof text - 1), static_cast<ssize_t>(sizeof text - 1));
    close(fd);
    EXPECT_EQ(ElfSymbols::load(text_path).has_value(), false);
    // A truncated ELF header: the magic alone.
    std::ofstream(text_path, std::ios::trunc) << "\x7f"
                                                 "ELF\x02\x01";
    EXPECT_EQ(ElfSymbols::load(text_path).has_value(), false);
    unlink(text_path);
}

TEST(ElfSymbolsTest, LoadsFixtureSymbolsAndSegments) {
    auto elf = ElfSymbols::load(CWTRACE_SYMBOLIZE_FIXTURE);
    ASSERT_TRUE(elf.has_value());
    // A PIE's first PT_LOAD maps file offset 0 at vaddr 0.
    EXPECT_EQ(elf->offset_to_vaddr(0), 0u);
    EXPECT_EQ(elf->offset_to_vaddr(UINT64_MAX), std::nullopt);
    EXPECT_EQ(elf->lookup(0), std::nullopt);  // no function at the ELF header
}

}  // namespace
}  // namespace cwtrace
