// Go programs: the build info's version (both layouts), the offsets chosen by version, and the
// creators' locations a captured creator stands for.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>

#include "golang/go_creators.h"
#include "golang/go_offsets.h"
#include "golang/go_process.h"

namespace cwtrace {
namespace {

std::string header(uint8_t ptr_size, uint8_t flags) {
    std::string h("\xff Go buildinf:", 14);
    h += static_cast<char>(ptr_size);
    h += static_cast<char>(flags);
    h.resize(32, '\0');
    return h;
}

const VaddrReader kNoReads = [](uint64_t, size_t) { return std::optional<std::string>(); };

TEST(GoBuildInfo, InlineVersionSinceGo118) {
    std::string s = header(8, 2) + '\x08' + "go1.19.8" + '\x00';
    EXPECT_EQ(go_buildinfo_version(s, kNoReads), "go1.19.8");
}

TEST(GoBuildInfo, PointerToBuildVersionBeforeGo118) {
    // runtime.buildVersion at 0x1000: a string header pointing at 0x2000, 8 bytes long.
    std::string s = header(8, 0);
    const uint64_t string_addr = 0x1000;
    std::memcpy(s.data() + 16, &string_addr, 8);
    std::map<uint64_t, std::string> memory;
    std::string string_header(16, '\0');
    const uint64_t data = 0x2000, length = 8;
    std::memcpy(string_header.data(), &data, 8);
    std::memcpy(string_header.data() + 8, &length, 8);
    memory[0x1000] = string_header;
    memory[0x2000] = "go1.17.3";
    const VaddrReader read = [&](uint64_t vaddr, size_t size) -> std::optional<std::string> {
        auto it = memory.find(vaddr);
        if (it == memory.end() || it->second.size() != size) return std::nullopt;
        return it->second;
    };
    EXPECT_EQ(go_buildinfo_version(s, read), "go1.17.3");
    EXPECT_EQ(go_buildinfo_version(s, kNoReads), std::nullopt);
}

TEST(GoBuildInfo, WhatDoesNotHoldTogetherIsNotGo) {
    EXPECT_EQ(go_buildinfo_version("", kNoReads), std::nullopt);
    EXPECT_EQ(go_buildinfo_version(std::string(64, 'x'), kNoReads), std::nullopt);
    // A length past the section, a zero length, a huge varint, unprintable bytes.
    EXPECT_EQ(go_buildinfo_version(header(8, 2) + '\x40' + "go1.19", kNoReads), std::nullopt);
    EXPECT_EQ(go_buildinfo_version(header(8, 2) + '\x00', kNoReads), std::nullopt);
    EXPECT_EQ(go_buildinfo_version(header(8, 2) + std::string(12, '\xff'), kNoReads), std::nullopt);
    EXPECT_EQ(go_buildinfo_version(header(8, 2) + '\x03' + std::string("g\x01o"), kNoReads),
              std::nullopt);
    EXPECT_EQ(go_buildinfo_version(header(3, 0), kNoReads), std::nullopt);
}

TEST(GoVersion, Parsed) {
    EXPECT_EQ(parse_go_version("go1.19.8"), (GoVersion{1, 19}));
    EXPECT_EQ(parse_go_version("go1.21rc2"), (GoVersion{1, 21}));
    EXPECT_EQ(parse_go_version("go1.22.0 X:boringcrypto"), (GoVersion{1, 22}));
    EXPECT_EQ(parse_go_version("devel +4f2c2e3 Tue"), std::nullopt);
    EXPECT_EQ(parse_go_version("go"), std::nullopt);
    EXPECT_EQ(parse_go_version("go1"), std::nullopt);
}

TEST(GoOffsets, ChosenByVersion) {
    // 1.19 as its DWARF says; 1.21 parentGoid before gopc; 1.22 the tracer's fields moved out;
    // 1.23 syscallbp before goid.
    auto at = [](int minor) { return go_offsets_for({1, minor}); };
    ASSERT_TRUE(at(19));
    EXPECT_EQ(at(19)->g_goid, 152);
    EXPECT_EQ(at(19)->g_gopc, 296);
    EXPECT_EQ(at(19)->g_ancestors, 304);
    EXPECT_EQ(at(17)->g_gopc, 296);
    EXPECT_EQ(at(21)->g_gopc, 304);
    EXPECT_EQ(at(22)->g_gopc, 280);
    EXPECT_EQ(at(23)->g_goid, 160);
    EXPECT_EQ(at(23)->g_ancestors, 296);
    EXPECT_EQ(at(16), std::nullopt);
    EXPECT_EQ(at(24), std::nullopt);  // not checked: no creators rather than wrong ones
    EXPECT_EQ(go_offsets_for({2, 19}), std::nullopt);
}

cw_go_creator creator_of(uint64_t gopc) {
    cw_go_creator c{};
    c.gopc = gopc;
    return c;
}

void set_pcs(cw_go_ancestor& a, std::initializer_list<uint64_t> pcs) {
    a.depth = 0;
    for (uint64_t pc : pcs) a.pcs[a.depth++] = pc;
}

TEST(GoCreators, WithoutAncestorsTheGoStatementAlone) {
    EXPECT_EQ(creator_pcs(creator_of(0x4010)), (std::vector<CreatorPc>{{0x4010, 1}}));
    EXPECT_TRUE(creator_pcs(creator_of(0)).empty());
}

TEST(GoCreators, AncestorsFromTheGoStatementOutwards) {
    cw_go_creator c = creator_of(0x4010);
    c.ancestors = 1;
    // The runtime's newproc frame first, then the creator from its go statement.
    set_pcs(c.ancestor[0], {0x9000, 0x4010, 0x4100, 0x4200});
    c.ancestor[0].gopc = 0x5000;
    EXPECT_EQ(creator_pcs(c),
              (std::vector<CreatorPc>{{0x4010, 1}, {0x4100, 1}, {0x4200, 1}, {0x5000, 2}}));
    // The main goroutine was created by no one.
    c.ancestor[0].main = 1;
    EXPECT_EQ(creator_pcs(c), (std::vector<CreatorPc>{{0x4010, 1}, {0x4100, 1}, {0x4200, 1}}));
    // A go statement not among the pcs: all of them.
    c.gopc = 0x7777;
    EXPECT_EQ(creator_pcs(c).size(), 4u);
}

TEST(GoCreators, TwoGenerations) {
    cw_go_creator c = creator_of(0x4010);
    c.ancestors = 2;
    set_pcs(c.ancestor[0], {0x4010, 0x4100});
    c.ancestor[0].gopc = 0x5010;
    set_pcs(c.ancestor[1], {0x9000, 0x5010, 0x5100});
    c.ancestor[1].main = 1;
    EXPECT_EQ(creator_pcs(c),
              (std::vector<CreatorPc>{{0x4010, 1}, {0x4100, 1}, {0x5010, 2}, {0x5100, 2}}));
    // Counts past the bounds the kernel side keeps are not believed.
    c.ancestors = 1000;
    c.ancestor[1].depth = 1000;
    EXPECT_EQ(creator_pcs(c).size(), 2u + CW_GO_MAX_PCS - 1);
}

}  // namespace
}  // namespace cwtrace
