// Go programs as they ship: the Go fixture leaks connections net.Dial opened in the user's own
// goroutine, built plain and stripped with -ldflags='-s -w' (no .symtab, no DWARF). Both name
// main.openConnection at its net.Dial line from Go's own table (.gopclntab), and every frame of
// the binary keeps what names it later: its address, its file offset and the Go build id.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "harness.h"
#include "leak_checks.h"
#include "symbols/debug_info.h"
#include "symbols/go_pclntab.h"
#include "symbols/usyms.h"

using namespace cwtrace::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

constexpr int kLeaks = 3;

// The 1-based line of the fixture's source holding `needle`.
int fixture_line_of(const std::string& needle) {
    std::ifstream in(std::filesystem::path(FX_GO_SOURCE));
    std::string line;
    for (int n = 1; std::getline(in, line); ++n)
        if (line.find(needle) != std::string::npos) return n;
    return 0;
}

std::optional<uint64_t> hex_field(const json& frame, const char* key) {
    const std::string text = frame.value(key, "");
    if (!text.starts_with("0x")) return std::nullopt;
    return std::stoull(text.substr(2), nullptr, 16);
}

// Every frame of `binary` names, from its file offset and the file alone, the function it says,
// carries its address and the binary's build id (Go's: the fixture has no GNU one).
::testing::AssertionResult go_frames_symbolizable_later(const json& origin,
                                                        const std::string& binary) {
    const std::string path = std::filesystem::canonical(binary).string();
    const auto build_id = cwtrace::read_build_id(path);
    auto elf = cwtrace::ElfSymbols::load(path);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    auto table = cwtrace::GoPclntab::load(fd);
    ::close(fd);
    if (!build_id || !elf || !table) return ::testing::AssertionFailure() << "cannot read " << path;
    size_t checked = 0;
    for (const auto& frame : origin.at("user_stack")) {
        if (frame.value("module", "") != path) continue;
        ++checked;
        const auto offset = hex_field(frame, "file_offset");
        const auto vaddr = offset ? elf->offset_to_vaddr(*offset) : std::nullopt;
        const auto named = vaddr ? table->lookup(*vaddr) : std::nullopt;
        // A call inlined there is a frame of its own at the same address.
        const auto names = [&](const std::string& function) {
            return named->function == function ||
                   std::any_of(named->inlined.begin(), named->inlined.end(),
                               [&](const auto& call) { return call.function == function; });
        };
        if (!hex_field(frame, "address") || !named || !names(frame.value("function", "")) ||
            frame.value("build_id", "") != *build_id)
            return ::testing::AssertionFailure()
                   << "frame not symbolizable from " << path << " alone (build id " << *build_id
                   << "): " << frame.dump();
    }
    if (checked == 0) return ::testing::AssertionFailure() << "no frame of " << path;
    return ::testing::AssertionSuccess();
}

class GoRuntime : public ::testing::TestWithParam<const char*> {};

// kLeaks connections of the fixture's dial mode, each read to the peer's FIN: owner and count
// exact, the opening path through net.Dial to main.openConnection at its line, named alike in
// the plain and the stripped build.
TEST_P(GoRuntime, DialInTheUsersGoroutineNamesTheUsersFunction) {
    const std::string binary = GetParam();
    if (binary.empty()) GTEST_SKIP() << "go is not installed (apt-get install golang-go)";
    auto cwtrace = start_cwtrace({"--min-age", "1s", "-f", "json"});
    if (!cwtrace) return;
    Process peer({FX_PEER, "-l"});
    const int port = announced_port(peer);
    Process go({binary, "dial", "127.0.0.1:" + std::to_string(port), std::to_string(kLeaks)});
    ASSERT_TRUE(go.wait_line("ready", 10s)) << go.err();
    std::this_thread::sleep_for(1500ms);
    const json report = stop_with_report(*cwtrace);
    expect_schema_valid(cwtrace->out());

    const auto leaked = sockets_with_port(report, "remote", port);
    ASSERT_EQ(leaked.size(), static_cast<size_t>(kLeaks)) << report.dump(2);
    const std::string module = std::filesystem::canonical(binary).string();
    const int dial_line = fixture_line_of("net.Dial(");
    ASSERT_GT(dial_line, 0);
    for (const auto& s : leaked) {
        EXPECT_EQ(s.at("pid"), go.pid()) << s.dump(2);
        EXPECT_EQ(s.at("comm"), std::filesystem::path(binary).filename().string().substr(0, 15));
        const json& origin = s.at("origin");
        EXPECT_EQ(origin.at("kind"), "connect");
        EXPECT_EQ(origin.at("pid"), go.pid());
        EXPECT_TRUE(has_chain(function_names(origin.at("user_stack")),
                              {"net.Dial", "main.openConnection", "main.main"}));
        EXPECT_TRUE(own_frame_is(origin, "main.openConnection", dial_line));
        const json& own = origin.at("own");
        ASSERT_TRUE(own.is_object()) << origin.dump(2);
        EXPECT_TRUE(own.value("file", "").ends_with("/leaky_go.go")) << own.dump();
        EXPECT_EQ(own.value("module", ""), module) << own.dump();
        EXPECT_TRUE(go_frames_symbolizable_later(origin, binary));
    }
}

INSTANTIATE_TEST_SUITE_P(Builds, GoRuntime, ::testing::Values(FX_GO_LEAK, FX_GO_LEAK_STRIPPED),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                             return std::string(info.index == 0 ? "Plain" : "Stripped");
                         });

}  // namespace
