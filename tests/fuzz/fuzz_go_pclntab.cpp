// libFuzzer target: a Go pclntab, as a stripped Go binary another user wrote carries it. The
// seed is the Go fixture's own table (scripts/fuzz cuts it from build/tests/leaky_go_stripped).
// Whatever a parse accepts, every lookup must answer within the table: names (inlined ones too)
// and files are the table's own bytes, and a function starts at or before the PC it holds.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "symbols/go_pclntab.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace cwtrace;
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    // The input stands for go.func.* too: inline trees' offsets then land in bytes it chose.
    auto table = GoPclntab::parse(std::vector<uint8_t>(data, data + size), 0x401000,
                                  std::vector<uint8_t>(data, data + size));
    if (!table) return 0;
    check(table->functions() > 0);
    // The header's own words (textStart among them) as PCs, then the functions before each hit.
    for (size_t i = 0; i + 8 <= size && i < 128; i += 4) {
        uint64_t pc = 0;
        for (size_t b = 0; b < 8; ++b) pc |= uint64_t{data[i + b]} << (8 * b);
        for (int walk = 0; walk < 8; ++walk) {
            auto fn = table->lookup(pc);
            if (!fn) break;
            check(!fn->function.empty() && bytes.find(fn->function) != std::string_view::npos);
            check(fn->file.empty() || bytes.find(fn->file) != std::string_view::npos);
            check(fn->entry <= pc);
            for (const GoInlinedCall& inlined : fn->inlined) {
                check(bytes.find(inlined.function) != std::string_view::npos);
                check(inlined.file.empty() || bytes.find(inlined.file) != std::string_view::npos);
            }
            if (fn->entry == 0) break;
            pc = fn->entry - 1;
        }
    }
    return 0;
}
