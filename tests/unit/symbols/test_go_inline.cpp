// Go's inlined calls, from the stripped fixture's pclntab (test_go_pclntab compares every chain
// with DWARF's): http.Get inlined into the user's function is at its own line in client.go, the
// symbolizer makes it a frame of its own above the user's function at its call, and a PC the
// runtime saved for a traceback names the innermost call.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "go_fixture.h"
#include "symbols/go_pclntab.h"
#include "symbols/usyms.h"

namespace cwtrace {
namespace {

namespace fs = std::filesystem;
using namespace go_fixture;

// A PC of main.fetchWithoutClose in the code of the net/http.Get it inlined.
std::optional<GoFunction> in_inlined_get() {
    return first_in_function("main.fetchWithoutClose", [](const GoFunction& fn) {
        return fn.inlined.size() == 1 && fn.inlined[0].function == "net/http.Get";
    });
}

// http.Get is inlined into main.fetchWithoutClose: the function's frame is at the line of its
// http.Get call, and the call is at its own line in client.go, as DWARF has them.
TEST(GoInline, InlinedCallsAreNamedAtTheirLines) {
    SKIP_WITHOUT_GO();
    const int get_line = source_line_of(":= http.Get(");
    ASSERT_GT(get_line, 0);
    auto fn = in_inlined_get();
    ASSERT_TRUE(fn) << "http.Get is inlined in main.fetchWithoutClose";
    EXPECT_EQ(fn->line, static_cast<uint32_t>(get_line));
    const GoInlinedCall& get = fn->inlined[0];
    EXPECT_TRUE(get.file.ends_with("/net/http/client.go")) << get.file;
    // Any PC of that code: its line in client.go is DWARF's.
    auto table = load(kStripped);
    const std::vector<Symbol> syms = text_symbols();
    const Symbol* sym = find_symbol(syms, "main.fetchWithoutClose");
    ASSERT_TRUE(table && sym);
    size_t compared = 0;
    for (uint64_t pc = sym->addr; pc < sym->addr + sym->size; ++pc) {
        auto at = table->lookup(pc);
        if (!at || at->inlined.size() != 1) continue;
        const auto dwarf = addr2line({pc});
        ASSERT_EQ(dwarf.size(), 1u);
        ASSERT_EQ(dwarf[0].size(), 2u) << std::hex << pc;
        EXPECT_EQ(dwarf[0][0].function, at->inlined[0].function) << std::hex << pc;
        EXPECT_EQ(dwarf[0][0].where,
                  at->inlined[0].file + ":" + std::to_string(at->inlined[0].line))
            << std::hex << pc;
        ++compared;
    }
    EXPECT_GT(compared, 0u);
}

// The symbolizer makes net/http.Get a frame of its own, at the same address, above the user's
// function at its call; a traceback's PC there is the innermost call alone.
TEST(GoInline, SymbolizerExpandsInlinedCalls) {
    SKIP_WITHOUT_GO();
    const int get_line = source_line_of(":= http.Get(");
    const std::vector<Symbol> syms = text_symbols();
    const Symbol* sym = find_symbol(syms, "main.fetchWithoutClose");
    ASSERT_NE(sym, nullptr);
    ProcessMaps maps = ProcessMaps::parse(maps_line(kStripped, 0, sym->addr + sym->size));
    auto table = load(kStripped);
    ASSERT_TRUE(table);
    UserSymbolizer symbolizer;
    uint64_t pc = sym->addr;
    for (; pc < sym->addr + sym->size; ++pc)
        if (auto fn = table->lookup(pc);
            fn && fn->inlined.size() == 1 && fn->inlined[0].function == "net/http.Get")
            break;
    ASSERT_LT(pc, sym->addr + sym->size) << "http.Get is inlined in main.fetchWithoutClose";
    const std::vector<Frame> frames = symbolizer.symbolize_inlined(maps, pc);
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(frames[0].function, "net/http.Get");
    EXPECT_TRUE(frames[0].file.ends_with("/net/http/client.go")) << frames[0].file;
    EXPECT_EQ(frames[1].function, "main.fetchWithoutClose");
    EXPECT_EQ(frames[1].line, get_line);
    EXPECT_EQ(fs::path(frames[1].file).filename(), "leaky_go.go");
    for (const Frame& f : frames) {
        EXPECT_EQ(f.address, pc);
        EXPECT_EQ(f.module, kStripped);
    }
    EXPECT_EQ(symbolizer.symbolize(maps, pc).function, "net/http.Get");
    // Where nothing is inlined, one frame, the same either way.
    const std::vector<Frame> own = symbolizer.symbolize_inlined(maps, sym->addr);
    ASSERT_EQ(own.size(), 1u);
    EXPECT_EQ(own[0].function, "main.fetchWithoutClose");
}

}  // namespace
}  // namespace cwtrace
