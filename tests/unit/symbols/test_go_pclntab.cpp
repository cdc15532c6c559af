// Go's pclntab read from the Go fixture stripped with -ldflags='-s -w': what it names must be
// what the unstripped build's .symtab and DWARF name at the same addresses; its Go build id
// reaches the frames; a table cut or bent anywhere is refused or answers nothing, never a crash.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "symbols/debug_info.h"
#include "symbols/go_pclntab.h"
#include "symbols/usyms.h"

#ifndef CWTRACE_GO_FIXTURE
#error "CWTRACE_GO_FIXTURE must name the built leaky_go (\"\" without go)"
#endif

namespace cwtrace {
namespace {

namespace fs = std::filesystem;

const std::string kPlain = CWTRACE_GO_FIXTURE;
const std::string kStripped = kPlain.empty() ? "" : kPlain + "_stripped";
const std::string kSource = CWTRACE_GO_FIXTURE_SOURCE;

#define SKIP_WITHOUT_GO()                                                                  \
    if (kPlain.empty()) GTEST_SKIP() << "go is not installed (apt-get install golang-go)"; \
    static_assert(true)

std::string command_output(const std::string& command) {
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
std::vector<Symbol> text_symbols() {
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

const Symbol* find_symbol(const std::vector<Symbol>& syms, const std::string& name) {
    for (const Symbol& s : syms)
        if (s.name == name) return &s;
    return nullptr;
}

int source_line_of(const std::string& needle) {
    std::ifstream in(kSource);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n)
        if (line.find(needle) != std::string::npos) return n;
    return 0;
}

std::optional<GoPclntab> load(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    auto table = GoPclntab::load(fd);
    ::close(fd);
    return table;
}

std::vector<uint8_t> section_bytes(const std::string& path) {
    const std::string out = (fs::temp_directory_path() / "cwtrace-gopclntab.bin").string();
    const std::string cmd =
        "objcopy -O binary --only-section=.gopclntab '" + path + "' '" + out + "'";
    if (std::system(cmd.c_str()) != 0) return {};
    std::ifstream in(out, std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
    fs::remove(out);
    return bytes;
}

// The Go functions of the plain build's .symtab, with their sizes. Assembly functions there
// carry their ABI (".abi0"), which Go's tools and its table do not print; cgo's C objects are
// left out (their section symbols "net(.text)" are no functions). The linker's middle dot in a
// few generated names ("type..eq.T·1") is a dot in .symtab.
std::vector<Symbol> go_functions() {
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

// "file:line" for each of `pcs`, from the plain build's DWARF as binutils' addr2line reads it:
// innermost first when the compiler inlined calls there, the outermost call last.
std::vector<std::vector<std::string>> addr2line(const std::vector<uint64_t>& pcs) {
    const std::string list =
        (fs::temp_directory_path() / ("cwtrace-go-pcs-" + std::to_string(getpid()))).string();
    {
        std::ofstream out(list);
        for (uint64_t pc : pcs) out << std::hex << pc << "\n";
    }
    std::istringstream lines(
        command_output("addr2line -a -i -e '" + kPlain + "' < '" + list + "'"));
    fs::remove(list);
    std::vector<std::vector<std::string>> out;
    for (std::string line; std::getline(lines, line);) {
        if (line.starts_with("0x"))
            out.emplace_back();
        else if (!out.empty())
            out.back().push_back(line);
    }
    return out;
}

// A /proc/PID/maps line mapping `binary` from offset 0 where it is linked plus `shift`, up to
// `end` (as linked): a non-PIE executable maps where it is linked.
std::string maps_line(const std::string& binary, uint64_t shift, uint64_t end) {
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

// Every function the symbol table names is the one the stripped binary's pclntab names at its
// entry, its middle and its last byte.
TEST(GoPclntabTest, NamesWhatTheSymbolTableNames) {
    SKIP_WITHOUT_GO();
    auto table = load(kStripped);
    ASSERT_TRUE(table) << kStripped << " has a .gopclntab";
    EXPECT_EQ(table->layout(), "1.18");  // Debian's go 1.19
    const std::vector<Symbol> syms = go_functions();
    ASSERT_GT(syms.size(), 1000u);
    for (const Symbol& s : syms) {
        for (uint64_t pc : {s.addr, s.addr + s.size / 2, s.addr + s.size - 1}) {
            auto fn = table->lookup(pc);
            ASSERT_TRUE(fn) << s.name << " at " << std::hex << pc;
            std::string name = fn->function;
            for (size_t dot; (dot = name.find("\u00b7")) != std::string::npos;)
                name.replace(dot, 2, ".");
            EXPECT_EQ(name, s.name) << std::hex << pc;
            EXPECT_EQ(fn->entry, s.addr) << s.name;
        }
    }
    // Every function of the table was compared, but for a few the symbol table has no size for.
    EXPECT_GE(syms.size() + 16, table->functions());
}

// The file and line of every byte of the fixture's own functions, and of the entries and middles
// of all others, are DWARF's.
TEST(GoPclntabTest, FileAndLineAreDwarfs) {
    SKIP_WITHOUT_GO();
    auto table = load(kStripped);
    ASSERT_TRUE(table);
    std::vector<uint64_t> pcs;
    for (const Symbol& s : go_functions()) {
        const bool own = s.name.starts_with("main.");
        for (uint64_t pc = s.addr; pc < s.addr + s.size; pc += own ? 1 : s.size / 2 + 1)
            pcs.push_back(pc);
    }
    const std::vector<std::vector<std::string>> dwarf = addr2line(pcs);
    ASSERT_EQ(dwarf.size(), pcs.size());
    size_t compared = 0, own = 0, inlined = 0;
    for (size_t i = 0; i < pcs.size(); ++i) {
        if (dwarf[i].empty()) continue;
        const std::string& outer = dwarf[i].back();
        if (outer.starts_with("??") || outer.ends_with(":?")) continue;  // cgo's C code
        // DWARF names cgo's generated files relative to the build: "./_cgo_gotypes.go".
        const std::string where = outer.starts_with("./") ? outer.substr(2) : outer;
        auto fn = table->lookup(pcs[i]);
        ASSERT_TRUE(fn) << outer;
        // A method wrapper's inlined call is at "<autogenerated>:1" for Go's tracebacks and the
        // table; Go's DWARF records no inlining there.
        if (fn->file == "<autogenerated>" && !fn->inlined.empty()) continue;
        if (fn->inlined.empty()) {
            EXPECT_EQ(fn->file + ":" + std::to_string(fn->line), where) << std::hex << pcs[i];
        } else {
            // The depth and the outermost call's file agree; its line is the one DWARF may
            // place a few lines off (net.copyIP's To16 call), http.Get's below is exact.
            EXPECT_EQ(fn->file, where.substr(0, where.rfind(':'))) << std::hex << pcs[i];
            EXPECT_EQ(fn->inlined.size(), dwarf[i].size() - 1) << std::hex << pcs[i];
        }
        ++compared;
        if (fn->function.starts_with("main.")) ++own;
        if (!fn->inlined.empty()) ++inlined;
    }
    EXPECT_GT(compared, 8000u);
    EXPECT_GT(own, 300u);      // every byte of the fixture's functions
    EXPECT_GT(inlined, 500u);  // the standard library's inlined calls
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
        EXPECT_TRUE(fn && fs::path(fn->file).filename() == "leaky_go.go") << std::hex << pc;
        if (fn && wanted(*fn)) return fn;
    }
    return std::nullopt;
}

// http.Get is inlined into main.fetchWithoutClose: the frame is the user's function at the line
// of its http.Get call, not client.go's, and says what was inlined there.
TEST(GoPclntabTest, InlinedCallsAreNamedAtTheUsersLine) {
    SKIP_WITHOUT_GO();
    const int get_line = source_line_of(":= http.Get(");
    ASSERT_GT(get_line, 0);
    auto call = first_in_function("main.fetchWithoutClose", [](const GoFunction& fn) {
        return fn.inlined == std::vector<std::string>{"net/http.Get"};
    });
    ASSERT_TRUE(call) << "http.Get is inlined in main.fetchWithoutClose";
    EXPECT_EQ(call->line, static_cast<uint32_t>(get_line));
}

// The call of net.Dial is in main.openConnection at the line the source has it.
TEST(GoPclntabTest, NamesTheUsersCallLine) {
    SKIP_WITHOUT_GO();
    const int dial_line = source_line_of("net.Dial(");
    ASSERT_GT(dial_line, 0);
    EXPECT_TRUE(first_in_function(
        "main.openConnection",
        [dial_line](const GoFunction& fn) { return fn.line == static_cast<uint32_t>(dial_line); }))
        << "no PC of main.openConnection is at line " << dial_line;
}

// A binary whose section headers are gone too: the pcHeader is found in its read-only segment.
TEST(GoPclntabTest, FoundWithoutSectionHeaders) {
    SKIP_WITHOUT_GO();
    const std::string copy =
        (fs::temp_directory_path() / ("cwtrace-go-nosections-" + std::to_string(getpid())))
            .string();
    fs::copy_file(kStripped, copy, fs::copy_options::overwrite_existing);
    {
        // e_shoff (8 bytes at 0x28), e_shnum and e_shstrndx (2 each at 0x3c) of an ELF64 header.
        std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
        const char zeros[8] = {};
        f.seekp(0x28);
        f.write(zeros, 8);
        f.seekp(0x3c);
        f.write(zeros, 4);
    }
    ASSERT_NE(command_output("readelf -S '" + copy + "' 2>&1").find("no sections"),
              std::string::npos);
    auto headless = load(copy);
    fs::remove(copy);
    auto table = load(kStripped);
    ASSERT_TRUE(headless && table);
    EXPECT_EQ(headless->functions(), table->functions());
    const std::vector<Symbol> syms = text_symbols();
    const Symbol* open = find_symbol(syms, "main.openConnection");
    ASSERT_NE(open, nullptr);
    auto fn = headless->lookup(open->addr + 1);
    ASSERT_TRUE(fn);
    EXPECT_EQ(fn->function, "main.openConnection");
    EXPECT_EQ(fn->line, table->lookup(open->addr + 1)->line);
}

// Go's build id, as `go tool buildid` prints it, hex-encoded: the fixture has no GNU one.
TEST(GoPclntabTest, GoBuildIdWhenThereIsNoGnuOne) {
    SKIP_WITHOUT_GO();
    for (const std::string& binary : {kPlain, kStripped}) {
        std::string go_id =
            command_output(std::string(CWTRACE_GO) + " tool buildid '" + binary + "'");
        while (!go_id.empty() && go_id.back() == '\n') go_id.pop_back();
        ASSERT_FALSE(go_id.empty());
        ASSERT_EQ(command_output("readelf -n '" + binary + "'").find("GNU_BUILD_ID"),
                  std::string::npos);
        std::string hex;
        for (unsigned char c : go_id) {
            char two[3];
            std::snprintf(two, sizeof two, "%02x", c);
            hex += two;
        }
        EXPECT_EQ(read_build_id(binary), hex) << binary;
    }
}

// The symbolizer names the stripped binary's frames from the table, with file, line and the Go
// build id, through a mapping as /proc/PID/maps would show it.
TEST(GoPclntabTest, StrippedFramesNamedBySymbolizer) {
    SKIP_WITHOUT_GO();
    const std::vector<Symbol> syms = text_symbols();
    const Symbol* open = find_symbol(syms, "main.openConnection");
    ASSERT_NE(open, nullptr);
    ProcessMaps maps = ProcessMaps::parse(maps_line(kStripped, 0, open->addr + 4096));
    UserSymbolizer sym;
    const int dial_line = source_line_of("net.Dial(");
    Frame frame;
    for (uint64_t pc = open->addr; pc < open->addr + open->size; ++pc) {
        frame = sym.symbolize(maps, pc);
        if (frame.line == dial_line) break;
    }
    EXPECT_EQ(frame.function, "main.openConnection");
    EXPECT_EQ(frame.line, dial_line);
    EXPECT_EQ(fs::path(frame.file).filename(), "leaky_go.go");
    EXPECT_EQ(frame.build_id, read_build_id(kStripped).value_or("none"));
    EXPECT_EQ(frame.module, kStripped);
}

// With room for one table, two Go binaries take turns: the one dropped is read again when its
// frames come back, never left unnamed.
TEST(GoPclntabTest, TablesDroppedPastTheBoundAreReadAgain) {
    SKIP_WITHOUT_GO();
    const std::vector<Symbol> syms = text_symbols();
    const Symbol* open = find_symbol(syms, "main.openConnection");
    ASSERT_NE(open, nullptr);
    // The plain build where it is linked, the stripped one 256 MB above.
    constexpr uint64_t kShift = 256 << 20;
    ProcessMaps maps = ProcessMaps::parse(maps_line(kPlain, 0, open->addr + 4096) +
                                          maps_line(kStripped, kShift, open->addr + 4096));
    UserSymbolizer sym(16, 1);
    for (int turn = 0; turn < 3; ++turn) {
        for (uint64_t shift : {uint64_t{0}, kShift}) {
            const Frame frame = sym.symbolize(maps, open->addr + shift + 1);
            EXPECT_EQ(frame.function, "main.openConnection") << turn << " " << frame.module;
            EXPECT_GT(frame.line.value_or(0), 0) << frame.module;
        }
    }
}

// Go 1.20 moved nothing the lookup reads (its _func grew after cuOffset): the same table under
// 1.20's magic answers alike; under no magic it is no table.
TEST(GoPclntabTest, MagicChoosesTheLayout) {
    SKIP_WITHOUT_GO();
    std::vector<uint8_t> bytes = section_bytes(kStripped);
    ASSERT_GT(bytes.size(), 8u);
    auto go118 = GoPclntab::parse(bytes);
    ASSERT_TRUE(go118);
    bytes[0] = 0xf1;  // 0xfffffff1, little-endian
    auto go120 = GoPclntab::parse(bytes);
    ASSERT_TRUE(go120);
    EXPECT_EQ(go120->layout(), "1.20");
    const std::vector<Symbol> syms = go_functions();
    for (size_t i = 0; i < syms.size(); i += 97) {
        auto a = go118->lookup(syms[i].addr + 1), b = go120->lookup(syms[i].addr + 1);
        ASSERT_TRUE(a && b) << syms[i].name;
        EXPECT_EQ(a->function + a->file + std::to_string(a->line),
                  b->function + b->file + std::to_string(b->line));
    }
    bytes[0] = 0xf5;
    EXPECT_FALSE(GoPclntab::parse(bytes));
}

// Every prefix of a real table, and the table with any one header byte changed, is refused or
// answers within itself (ASan/UBSan builds check "within").
TEST(GoPclntabTest, CutAndBentTablesAreSafe) {
    SKIP_WITHOUT_GO();
    const std::vector<uint8_t> bytes = section_bytes(kStripped);
    ASSERT_GT(bytes.size(), 4096u);
    auto whole = GoPclntab::parse(bytes);
    ASSERT_TRUE(whole);
    const std::vector<Symbol> syms = text_symbols();
    const Symbol* open = find_symbol(syms, "main.openConnection");
    ASSERT_NE(open, nullptr);
    const uint64_t pc = open->addr + 16;
    for (size_t cut = 0; cut < 512; ++cut) {
        auto t = GoPclntab::parse({bytes.begin(), bytes.begin() + static_cast<long>(cut)});
        EXPECT_FALSE(t) << "a table cut at " << cut << " bytes, before its functab";
    }
    for (size_t at = 0; at < 88; ++at) {
        for (uint8_t value : {uint8_t{0}, uint8_t{0x7f}, uint8_t{0xff}}) {
            std::vector<uint8_t> bent = bytes;
            bent[at] = value;
            if (auto t = GoPclntab::parse(std::move(bent))) (void)t->lookup(pc);
        }
    }
    for (size_t short_by = 1; short_by < 256; ++short_by) {
        const auto end = bytes.end() - static_cast<long>(short_by);
        if (auto t = GoPclntab::parse({bytes.begin(), end})) (void)t->lookup(pc);
    }
}

}  // namespace
}  // namespace cwtrace
