// Kernel symbolization from kallsyms text.
#include "symbols/ksyms.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include "util/fields.h"

namespace cwtrace {
namespace {

// Only code symbols can contain a stack frame's instruction pointer.
bool is_text_type(std::string_view type) {
    return type.size() == 1 && std::string_view("tTwW").find(type[0]) != std::string_view::npos;
}

}  // namespace

KernelSymbols KernelSymbols::parse(std::string_view kallsyms_text) {
    KernelSymbols table;
    while (!kallsyms_text.empty()) {
        std::string_view line = next_line(kallsyms_text);

        auto addr = parse_hex(next_field(line));
        std::string_view type = next_field(line);
        // Any "[module]" column is a separate field after the name, so it is dropped here.
        std::string_view name = next_field(line);
        // kptr_restrict hides every address as zero: such entries would match everything.
        if (!addr || *addr == 0 || !is_text_type(type) || name.empty()) continue;
        table.syms_.push_back(Sym{*addr, std::string(name)});
    }
    std::stable_sort(table.syms_.begin(), table.syms_.end(),
                     [](const Sym& a, const Sym& b) { return a.addr < b.addr; });
    return table;
}

KernelSymbols KernelSymbols::load(const std::string& path) {
    // procfs reports st_size 0, so read the stream to its end instead of sizing a buffer.
    std::ifstream in(path);
    if (!in) return {};
    std::ostringstream text;
    text << in.rdbuf();
    return parse(text.view());
}

std::optional<std::string> KernelSymbols::lookup(uint64_t addr) const {
    auto it = std::upper_bound(syms_.begin(), syms_.end(), addr,
                               [](uint64_t a, const Sym& s) { return a < s.addr; });
    if (it == syms_.begin()) return std::nullopt;
    return std::prev(it)->name;
}

}  // namespace cwtrace
