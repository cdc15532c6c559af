// The Go fixture (tests/fixtures/leaky_go.go, built plain and stripped by tests/CMakeLists.txt
// with Debian's go) and what binutils say of it: its symbols, DWARF's frames at a PC, its
// source's lines; shared by the pclntab and inlined-call tests.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "symbols/go_pclntab.h"
#include "symbols/usyms.h"

#ifndef CWTRACE_GO_FIXTURE
#error "CWTRACE_GO_FIXTURE must name the built leaky_go (\"\" without go)"
#endif

namespace cwtrace::go_fixture {

inline const std::string kPlain = CWTRACE_GO_FIXTURE;
inline const std::string kStripped = kPlain.empty() ? "" : kPlain + "_stripped";
inline const std::string kSource = CWTRACE_GO_FIXTURE_SOURCE;

#define SKIP_WITHOUT_GO()                                                  \
    if (::cwtrace::go_fixture::kPlain.empty())                             \
        GTEST_SKIP() << "go is not installed (apt-get install golang-go)"; \
    static_assert(true)

inline std::string command_output(const std::string& command) {
    std::string out;
    if (FILE* p = popen(command.c_str(), "r")) {
        char buf[4096];
        for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
        pclose(p);
    }
    return out;
}

struct Symbol {
    uint64_t addr, size;
    std::string name;
};

// The functions the unstripped build's .symtab names, with their sizes.
inline std::vector<Symbol> text_symbols() {
    std::istringstream lines(command_output("nm -S --defined-only '" + kPlain + "'"));
    std::vector<Symbol> out;
    std::string addr, size, type, name;
    for (std::string line; std::getline(lines, line);) {
        std::istringstream fields(line);
        // Names of methods on anonymous structs hold blanks: the name is the rest of the line.
        if ((fields >> addr >> size >> type >> std::ws) && std::getline(fields, name) &&
            (type == "T" || type == "t"))
            out.push_back({std::stoull(addr, nullptr, 16), std::stoull(size, nullptr, 16), name});
    }
    return out;
}

inline const Symbol* find_symbol(const std::vector<Symbol>& syms, const std::string& name) {
    for (const Symbol& s : syms)
        if (s.name == name) return &s;
    return nullptr;
}

inline int source_line_of(const std::string& needle) {
    std::ifstream in(kSource);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n)
        if (line.find(needle) != std::string::npos) return n;
    return 0;
}

inline std::optional<GoPclntab> load(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    auto table = GoPclntab::load(fd);
    ::close(fd);
    return table;
}

// The Go functions of the plain build's .symtab, with their sizes. Assembly functions there
// carry their ABI (".abi0"), which Go's tools and its table do not print; cgo's C objects are
// left out (their section symbols "net(.text)" are no functions). The linker's middle dot in a
// few generated names ("type..eq.T·1") is a dot in .symtab.
inline std::vector<Symbol> go_functions() {
    std::vector<Symbol> out;
    for (Symbol s : text_symbols()) {
        if (s.size == 0 || s.name.find("(.text") != std::string::npos) continue;
        if (s.name.ends_with(".abi0")) s.name.resize(s.name.size() - 5);
        // The table writes a generic instantiation's type arguments as "[...]", as tracebacks do.
        if (const size_t open = s.name.find('['); open != std::string::npos) {
            const size_t close = s.name.rfind(']');
            if (close > open) s.name.replace(open, close - open + 1, "[...]");
        }
        out.push_back(std::move(s));
    }
    return out;
}

// A frame DWARF names at a PC.
struct DwarfFrame {
    std::string function;  // as addr2line -f prints it: "net/http.Get"
    std::string where;     // "file:line"
};

// The frames at each of `pcs`, from the plain build's DWARF as LLVM's addr2line reads it (binutils'
// names an inlined call of Go's by its caller): innermost first when the compiler inlined calls
// there, the outermost call last.
inline std::vector<std::vector<DwarfFrame>> addr2line(const std::vector<uint64_t>& pcs) {
    const std::string list =
        (std::filesystem::temp_directory_path() / ("cwtrace-go-pcs-" + std::to_string(getpid())))
            .string();
    {
        std::ofstream out(list);
        for (uint64_t pc : pcs) out << std::hex << pc << "\n";
    }
    std::istringstream lines(
        command_output("llvm-addr2line -a -f -i -e '" + kPlain + "' < '" + list + "'"));
    std::filesystem::remove(list);
    std::vector<std::vector<DwarfFrame>> out;
    for (std::string line; std::getline(lines, line);) {
        if (line.starts_with("0x")) {
            out.emplace_back();
        } else if (!out.empty()) {
            std::string where;
            std::getline(lines, where);
            out.back().push_back({line, where});
        }
    }
    return out;
}

// A /proc/PID/maps line mapping `binary` from offset 0 where it is linked plus `shift`, up to
// `end` (as linked): a non-PIE executable maps where it is linked.
inline std::string maps_line(const std::string& binary, uint64_t shift, uint64_t end) {
    auto elf = ElfSymbols::load(binary);
    struct stat st;
    if (!elf || !elf->offset_to_vaddr(0) || ::stat(binary.c_str(), &st) != 0) return "";
    char line[512];
    std::snprintf(line, sizeof line, "%lx-%lx r-xp 00000000 %x:%x %lu %s\n",
                  static_cast<unsigned long>(*elf->offset_to_vaddr(0) + shift),
                  static_cast<unsigned long>(end + shift), major(st.st_dev), minor(st.st_dev),
                  static_cast<unsigned long>(st.st_ino), binary.c_str());
    return line;
}

// Walks every byte of the fixture's `function` in the stripped table, each named `function` in
// leaky_go.go, to the first whose answer `wanted` accepts; nullopt when none does.
template <typename Wanted>
std::optional<GoFunction> first_in_function(const std::string& function, Wanted wanted) {
    auto table = load(kStripped);
    const std::vector<Symbol> syms = text_symbols();
    const Symbol* sym = find_symbol(syms, function);
    if (!table || !sym) return std::nullopt;
    for (uint64_t pc = sym->addr; pc < sym->addr + sym->size; ++pc) {
        auto fn = table->lookup(pc);
        EXPECT_TRUE(fn && fn->function == function) << std::hex << pc;
        EXPECT_TRUE(fn && std::filesystem::path(fn->file).filename() == "leaky_go.go")
            << std::hex << pc;
        if (fn && wanted(*fn)) return fn;
    }
    return std::nullopt;
}

}  // namespace cwtrace::go_fixture
