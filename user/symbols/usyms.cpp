// User-space symbolization: /proc/PID/maps snapshots plus per-file ELF symbol tables.
#include "symbols/usyms.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "symbols/demangle.h"
#include "util/fields.h"

namespace cwtrace {
namespace {

constexpr std::string_view kDeleted = " (deleted)";
constexpr const char* kUnknown = "[unknown]";
// How many earlier symbols to inspect for one that encloses a nested symbol's gap.
constexpr int kMaxEnclosingScan = 16;

// "start-end perms offset dev inode   path"; nullopt for lines that are not an executable file.
std::optional<Mapping> parse_maps_line(std::string_view line) {
    std::string_view range = next_field(line);
    std::string_view perms = next_field(line);
    auto offset = parse_hex(next_field(line));
    next_field(line);  // device
    next_field(line);  // inode
    size_t dash = range.find('-');
    if (dash == std::string_view::npos || perms.size() < 3 || perms[2] != 'x' || !offset) {
        return std::nullopt;
    }
    auto start = parse_hex(range.substr(0, dash));
    auto end = parse_hex(range.substr(dash + 1));
    if (!start || !end || *start >= *end) return std::nullopt;

    // The path is the rest of the line and may itself contain blanks.
    size_t path_begin = line.find_first_not_of(kFieldBlanks);
    if (path_begin == std::string_view::npos || line[path_begin] != '/') return std::nullopt;
    std::string_view path = line.substr(path_begin);
    while (!path.empty() && path.back() == '\r') path.remove_suffix(1);
    if (path.ends_with(kDeleted)) path.remove_suffix(kDeleted.size());
    return Mapping{*start, *end, *offset, std::string(path)};
}

class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

  private:
    int fd_;
};

struct ElfCloser {
    void operator()(Elf* elf) const { elf_end(elf); }
};
using ElfPtr = std::unique_ptr<Elf, ElfCloser>;

// A symbol before deduplication, with what decides which alias names a shared address.
struct Candidate {
    uint64_t addr, size;
    int binding_rank;
    std::string name;
};

// glibc exports the public name as a weak alias of an internal global ("getpid" of "__getpid"),
// so weak and global rank alike and the underscore rule below picks the public one.
int binding_rank(unsigned char binding) {
    return binding == STB_GLOBAL || binding == STB_WEAK ? 0 : 1;
}

void read_functions(Elf* elf, Elf_Scn* scn, const GElf_Shdr& shdr, std::vector<Candidate>& out) {
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (data == nullptr || shdr.sh_entsize == 0) return;
    // A stripped debug file keeps the header but not the bytes (SHT_NOBITS): trust d_size.
    size_t count = data->d_size / shdr.sh_entsize;
    for (size_t i = 0; i < count; ++i) {
        GElf_Sym sym;
        if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr) break;
        int type = GELF_ST_TYPE(sym.st_info);
        if (type != STT_FUNC && type != STT_GNU_IFUNC) continue;
        // Undefined imports can carry a PLT address in non-PIE executables; they are not ours.
        if (sym.st_value == 0 || sym.st_shndx == SHN_UNDEF) continue;
        const char* name = elf_strptr(elf, shdr.sh_link, sym.st_name);
        if (name == nullptr || *name == '\0') continue;
        out.push_back(
            Candidate{sym.st_value, sym.st_size, binding_rank(GELF_ST_BIND(sym.st_info)), name});
    }
}

// Functions from .symtab, falling back to .dynsym when .symtab is absent or empty.
std::vector<Candidate> read_symbol_tables(Elf* elf) {
    std::vector<Candidate> symtab, dynsym;
    for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn; scn = elf_nextscn(elf, scn)) {
        GElf_Shdr shdr;
        if (gelf_getshdr(scn, &shdr) == nullptr) continue;
        if (shdr.sh_type == SHT_SYMTAB) read_functions(elf, scn, shdr, symtab);
        if (shdr.sh_type == SHT_DYNSYM) read_functions(elf, scn, shdr, dynsym);
    }
    return symtab.empty() ? std::move(dynsym) : std::move(symtab);
}

// Aliases share an address: keep the sized, most public, least internal-looking one, so the
// chosen name is deterministic.
void sort_and_dedupe(std::vector<Candidate>& syms) {
    std::sort(syms.begin(), syms.end(), [](const Candidate& a, const Candidate& b) {
        if (a.addr != b.addr) return a.addr < b.addr;
        if (a.size != b.size) return a.size > b.size;
        if (a.binding_rank != b.binding_rank) return a.binding_rank < b.binding_rank;
        // "getpid" reads better than its internal alias "__getpid".
        size_t a_under = std::min(a.name.find_first_not_of('_'), a.name.size());
        size_t b_under = std::min(b.name.find_first_not_of('_'), b.name.size());
        if (a_under != b_under) return a_under < b_under;
        return a.name < b.name;
    });
    auto last = std::unique(syms.begin(), syms.end(), [](const Candidate& a, const Candidate& b) {
        return a.addr == b.addr;
    });
    syms.erase(last, syms.end());
}

// Whether the process of /proc/PID `dir` sees the same files as we do. When unsure (no access to
// its namespace links), it does: paths are then opened as they are, as before containers.
bool same_mount_namespace(const std::string& dir) {
    struct stat ours, theirs;
    if (stat("/proc/self/ns/mnt", &ours) != 0 || stat((dir + "/ns/mnt").c_str(), &theirs) != 0)
        return true;
    return ours.st_ino == theirs.st_ino && ours.st_dev == theirs.st_dev;
}

using ElfCache = std::unordered_map<std::string, std::shared_ptr<const ElfSymbols>>;

// Failures are cached too, so a missing file is not reopened for every frame.
const ElfSymbols* cached_symbols(ElfCache& cache, const std::string& path) {
    auto it = cache.find(path);
    if (it == cache.end()) {
        std::shared_ptr<const ElfSymbols> loaded;
        if (auto syms = ElfSymbols::load(path)) {
            loaded = std::make_shared<const ElfSymbols>(std::move(*syms));
        }
        it = cache.emplace(path, std::move(loaded)).first;
    }
    return it->second.get();
}

}  // namespace

ProcessMaps ProcessMaps::parse(std::string_view maps_text) {
    ProcessMaps maps;
    while (!maps_text.empty()) {
        if (auto m = parse_maps_line(next_line(maps_text))) maps.maps_.push_back(std::move(*m));
    }
    std::sort(maps.maps_.begin(), maps.maps_.end(),
              [](const Mapping& a, const Mapping& b) { return a.start < b.start; });
    return maps;
}

std::optional<ProcessMaps> ProcessMaps::read(pid_t pid) {
    const std::string dir = "/proc/" + std::to_string(pid);
    std::ifstream in(dir + "/maps");
    if (!in) return std::nullopt;
    // procfs reports st_size 0, so read the stream to its end instead of sizing a buffer.
    std::ostringstream text;
    text << in.rdbuf();
    ProcessMaps maps = parse(text.view());
    if (!same_mount_namespace(dir)) maps.root_ = dir + "/root";
    return maps;
}

const Mapping* ProcessMaps::find(uint64_t addr) const {
    auto it = std::upper_bound(maps_.begin(), maps_.end(), addr,
                               [](uint64_t a, const Mapping& m) { return a < m.start; });
    if (it == maps_.begin()) return nullptr;
    const Mapping& m = *std::prev(it);
    return addr < m.end ? &m : nullptr;
}

std::optional<ElfSymbols> ElfSymbols::load(const std::string& path) {
    if (elf_version(EV_CURRENT) == EV_NONE) return std::nullopt;
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return std::nullopt;
    ElfPtr elf(elf_begin(fd.get(), ELF_C_READ_MMAP, nullptr));
    GElf_Ehdr ehdr;
    if (!elf || elf_kind(elf.get()) != ELF_K_ELF || !gelf_getehdr(elf.get(), &ehdr)) {
        return std::nullopt;
    }

    ElfSymbols out;
    size_t phnum = 0;
    if (elf_getphdrnum(elf.get(), &phnum) == 0) {
        for (size_t i = 0; i < phnum; ++i) {
            GElf_Phdr phdr;
            if (gelf_getphdr(elf.get(), static_cast<int>(i), &phdr) == nullptr) continue;
            if (phdr.p_type != PT_LOAD) continue;
            out.segments_.push_back(Segment{phdr.p_offset, phdr.p_vaddr, phdr.p_filesz});
        }
    }
    std::sort(out.segments_.begin(), out.segments_.end(),
              [](const Segment& a, const Segment& b) { return a.offset < b.offset; });

    std::vector<Candidate> candidates = read_symbol_tables(elf.get());
    sort_and_dedupe(candidates);
    out.syms_.reserve(candidates.size());
    for (Candidate& c : candidates) out.syms_.push_back(Sym{c.addr, c.size, std::move(c.name)});
    return out;
}

std::optional<uint64_t> ElfSymbols::offset_to_vaddr(uint64_t file_offset) const {
    for (const Segment& seg : segments_) {
        // Subtraction form: offset + filesz could overflow for a corrupt header.
        if (file_offset >= seg.offset && file_offset - seg.offset < seg.filesz) {
            return file_offset - seg.offset + seg.vaddr;
        }
    }
    return std::nullopt;
}

std::optional<std::string> ElfSymbols::lookup(uint64_t vaddr) const {
    auto covers = [vaddr](const Sym& s) { return s.size > 0 && vaddr - s.addr < s.size; };
    auto it = std::upper_bound(syms_.begin(), syms_.end(), vaddr,
                               [](uint64_t a, const Sym& s) { return a < s.addr; });
    if (it == syms_.begin()) return std::nullopt;
    auto nearest = std::prev(it);
    if (covers(*nearest)) return nearest->name;
    // An earlier, larger symbol may enclose vaddr past the end of a nested one.
    auto scan = nearest;
    for (int i = 0; i < kMaxEnclosingScan && scan != syms_.begin(); ++i) {
        --scan;
        if (covers(*scan)) return scan->name;
    }
    // Size-0 symbols (hand-written assembly) extend, as far as we know, to the next symbol.
    if (nearest->size == 0) return nearest->name;
    return std::nullopt;
}

Frame UserSymbolizer::symbolize(const ProcessMaps& maps, uint64_t addr) {
    const Mapping* m = maps.find(addr);
    if (m == nullptr) return Frame{kUnknown, ""};
    Frame frame{kUnknown, m->path};
    const ElfSymbols* syms = cached_symbols(cache_, maps.open_path(*m));
    if (syms == nullptr) return frame;
    auto vaddr = syms->offset_to_vaddr(addr - m->start + m->file_offset);
    if (!vaddr) return frame;
    if (auto name = syms->lookup(*vaddr)) frame.function = demangle(*name);
    debug_info_.annotate(maps.open_path(*m), *vaddr, frame);
    return frame;
}

}  // namespace cwtrace
