// The leak checks that need more than a header (see leak_checks.h).
#include "leak_checks.h"

#include <filesystem>
#include <optional>

#include "model/report.h"
#include "symbols/usyms.h"

namespace cwtrace::testing {

::testing::AssertionResult symbolizable_later(const nlohmann::json& origin,
                                              const std::string& module,
                                              const std::string& build_id) {
    const std::string path = std::filesystem::canonical(module).string();
    auto elf = ElfSymbols::load(path);
    if (!elf) return ::testing::AssertionFailure() << "cannot read " << path;
    size_t checked = 0;
    for (const auto& frame : origin.at("user_stack")) {
        if (frame.value("module", "") != path) continue;
        ++checked;
        const auto address = parse_address(frame.value("address", ""));
        const auto offset = parse_address(frame.value("file_offset", ""));
        const auto vaddr = offset ? elf->offset_to_vaddr(*offset) : std::nullopt;
        const auto named = vaddr ? elf->lookup(*vaddr) : std::nullopt;
        if (!address || !named || *named != frame.value("function", "") ||
            frame.value("build_id", "") != build_id)
            return ::testing::AssertionFailure()
                   << "frame not symbolizable from " << path << " alone (build id " << build_id
                   << "): " << frame.dump() << (named ? " names " + *named : "");
    }
    for (const auto& frame : origin.at("kernel_stack"))
        if (frame.contains("address") || frame.contains("file_offset"))
            return ::testing::AssertionFailure() << "a kernel frame's address: " << frame.dump();
    if (checked == 0) return ::testing::AssertionFailure() << "no frame of " << path;
    return ::testing::AssertionSuccess();
}

::testing::AssertionResult own_frame_is(const nlohmann::json& origin, const std::string& function,
                                        int line) {
    const auto& index = origin.value("own_frame", nlohmann::json());
    const auto& stack = origin.at("user_stack");
    if (!index.is_number_unsigned() || index.get<size_t>() >= stack.size())
        return ::testing::AssertionFailure() << "no own frame: " << origin.dump();
    const auto& own = stack.at(index.get<size_t>());
    if (origin.value("own", nlohmann::json()) != own)
        return ::testing::AssertionFailure()
               << "origin.own is not user_stack[" << index << "]: " << origin.dump();
    if (own.value("function", "") != function || (line && own.value("line", 0) != line))
        return ::testing::AssertionFailure()
               << "own frame " << own.dump() << ", expected " << function
               << (line ? " at line " + std::to_string(line) : "");
    return ::testing::AssertionSuccess();
}

}  // namespace cwtrace::testing
