// User-space symbolization: /proc/PID/maps snapshots plus per-file ELF symbol tables.
#include "symbols/usyms.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>

#include "symbols/demangle.h"
#include "util/capabilities.h"
#include "util/fields.h"

namespace cwtrace {
namespace {

constexpr std::string_view kDeleted = " (deleted)";
constexpr const char* kUnknown = "[unknown]";
// How many earlier symbols to inspect for one that encloses a nested symbol's gap.
constexpr int kMaxEnclosingScan = 16;

// "MAJOR:MINOR" in hex, as maps prints a device.
std::optional<uint64_t> parse_device(std::string_view field) {
    const size_t colon = field.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    auto major = parse_hex(field.substr(0, colon));
    auto minor = parse_hex(field.substr(colon + 1));
    if (!major || !minor || *major > UINT32_MAX || *minor > UINT32_MAX) return std::nullopt;
    return makedev(static_cast<unsigned>(*major), static_cast<unsigned>(*minor));
}

std::optional<uint64_t> parse_decimal(std::string_view field) {
    uint64_t value = 0;
    auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
    if (ec != std::errc{} || ptr != field.data() + field.size()) return std::nullopt;
    return value;
}

// "start-end perms offset dev inode   path"; nullopt for lines that are not an executable file.
// The path is returned apart, to be interned.
std::optional<Mapping> parse_maps_line(std::string_view line, std::string_view& path) {
    std::string_view range = next_field(line);
    std::string_view perms = next_field(line);
    auto offset = parse_hex(next_field(line));
    auto dev = parse_device(next_field(line));
    auto inode = parse_decimal(next_field(line));
    size_t dash = range.find('-');
    if (dash == std::string_view::npos || perms.size() < 3 || perms[2] != 'x' || !offset || !dev ||
        !inode) {
        return std::nullopt;
    }
    auto start = parse_hex(range.substr(0, dash));
    auto end = parse_hex(range.substr(dash + 1));
    if (!start || !end || *start >= *end) return std::nullopt;

    // The path is the rest of the line and may itself contain blanks.
    size_t path_begin = line.find_first_not_of(kFieldBlanks);
    if (path_begin == std::string_view::npos || line[path_begin] != '/') return std::nullopt;
    path = line.substr(path_begin);
    while (!path.empty() && path.back() == '\r') path.remove_suffix(1);
    Mapping m{*start, *end, *offset, {}, FileIdentity{*dev, *inode}, false};
    // Kept for the report's module name, never opened: another file may sit at the path now.
    if (path.ends_with(kDeleted)) {
        path.remove_suffix(kDeleted.size());
        m.deleted = true;
    }
    return m;
}

// "Uid:" and "NSpid:" of /proc/PID/status.
void read_identity(const std::string& dir, std::vector<uid_t>& uids, pid_t& nspid) {
    bool cut = false;
    auto status = read_procfs_text(dir + "/status", 64 << 10, cut);
    if (!status) return;
    std::string_view text = *status;
    while (!text.empty()) {
        std::string_view line = next_line(text);
        std::string_view key = next_field(line);
        if (key == "Uid:") {
            for (std::string_view f = next_field(line); !f.empty(); f = next_field(line))
                if (auto uid = parse_decimal(f)) uids.push_back(static_cast<uid_t>(*uid));
        } else if (key == "NSpid:") {
            for (std::string_view f = next_field(line); !f.empty(); f = next_field(line))
                if (auto pid = parse_decimal(f)) nspid = static_cast<pid_t>(*pid);
        }
    }
}

uint64_t content_hash(const MappingTable& t) {
    uint64_t h = t.maps.size();
    auto mix = [&h](uint64_t v) { h = (h ^ v) * 0x100000001b3ULL; };
    for (const Mapping& m : t.maps) {
        mix(m.start);
        mix(m.file.inode);
        mix(std::hash<std::string_view>{}(m.path));
    }
    return h;
}

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

}  // namespace

bool MappingTable::same_as(const MappingTable& other) const {
    return std::equal(maps.begin(), maps.end(), other.maps.begin(), other.maps.end(),
                      [](const Mapping& a, const Mapping& b) {
                          return a.start == b.start && a.end == b.end &&
                                 a.file_offset == b.file_offset && a.file == b.file &&
                                 a.deleted == b.deleted && a.path == b.path;
                      });
}

ProcessMaps ProcessMaps::parse(std::string_view maps_text, const MapsLimits& limits) {
    return parse(maps_text, limits, false);
}

ProcessMaps ProcessMaps::parse(std::string_view maps_text, const MapsLimits& limits,
                               bool text_cut) {
    auto table = std::make_shared<MappingTable>();
    table->truncated = text_cut;
    while (!maps_text.empty()) {
        std::string_view path;
        auto m = parse_maps_line(next_line(maps_text), path);
        if (!m) continue;
        if (table->maps.size() >= limits.max_mappings) {
            table->truncated = true;
            break;
        }
        // 65,000 mappings of one file share its path.
        m->path = *table->paths.emplace(path).first;
        table->maps.push_back(*m);
    }
    std::sort(table->maps.begin(), table->maps.end(),
              [](const Mapping& a, const Mapping& b) { return a.start < b.start; });
    ProcessMaps maps;
    maps.table_ = std::move(table);
    return maps;
}

std::optional<ProcessMaps> ProcessMaps::read(pid_t pid, const MapsLimits& limits) {
    const std::string dir = "/proc/" + std::to_string(pid);
    bool cut = false;
    auto text = read_procfs_text(dir + "/maps", limits.max_bytes, cut);
    if (!text) return std::nullopt;
    ProcessMaps maps = parse(*text, limits, cut);
    maps.pid_ = pid;
    maps.nspid_ = pid;
    read_identity(dir, maps.uids_, maps.nspid_);
    if (!same_mount_namespace(dir)) maps.root_ = dir + "/root";
    return maps;
}

OpenedFile ProcessMaps::open_file(const Mapping& m, uint64_t max_bytes) const {
    FileRules rules = capped_at(max_bytes);
    rules.identity = m.file;
    rules.mounts_of = pid_;
    // map_files wants CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE, whatever the uid: root without
    // them is refused there (EPERM), and would then never open the file by its path.
    static const bool map_files_usable =
        has_capability(effective_capabilities(), kCapSysAdmin) ||
        has_capability(effective_capabilities(), kCapCheckpointRestore);
    if (pid_ > 0 && map_files_usable) {
        // The kernel's link to the mapped file itself: following it is the point. A reused pid
        // with a mapping at the same place shows in the dev:inode check.
        char name[96];
        std::snprintf(name, sizeof name, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid_, m.start,
                      m.end);
        FileRules follow = rules;
        follow.follow_symlinks = true;
        OpenedFile through_proc = UntrustedFile::open(name, follow);
        if (through_proc || through_proc.refusal != Refusal::Missing) return through_proc;
    }
    if (m.deleted)
        return OpenedFile{std::nullopt, Refusal::Missing, std::string(m.path) + ": deleted"};
    return UntrustedFile::open(open_path(m), rules);
}

std::string ProcessMaps::file_key(const Mapping& m) {
    return std::to_string(m.file.dev) + ":" + std::to_string(m.file.inode) + ":" +
           std::string(m.path);
}

std::optional<ProcessMaps> ProcessMapsReader::read(pid_t pid) {
    auto maps = ProcessMaps::read(pid, limits_);
    if (!maps) return maps;
    if (maps->table().truncated) ++truncated_;
    const uint64_t hash = content_hash(maps->table());
    auto [first, last] = tables_.equal_range(hash);
    for (auto it = first; it != last; ++it) {
        if (auto table = it->second.lock(); table && table->same_as(maps->table())) {
            maps->share_table(std::move(table));
            ++shared_;
            return maps;
        }
    }
    // Tables no snapshot holds any more leave the index as new ones come.
    std::erase_if(tables_, [](const auto& entry) { return entry.second.expired(); });
    tables_.emplace(hash, maps->shared_table());
    return maps;
}

const Mapping* ProcessMaps::find(uint64_t addr) const {
    const std::vector<Mapping>& maps = table_->maps;
    auto it = std::upper_bound(maps.begin(), maps.end(), addr,
                               [](uint64_t a, const Mapping& m) { return a < m.start; });
    if (it == maps.begin()) return nullptr;
    const Mapping& m = *std::prev(it);
    return addr < m.end ? &m : nullptr;
}

std::optional<ElfSymbols> ElfSymbols::load(const std::string& path) {
    OpenedFile opened = UntrustedFile::open(path, capped_at(kMaxElfFileBytes));
    return opened ? load(opened.file->fd()) : std::nullopt;
}

std::optional<ElfSymbols> ElfSymbols::load(int fd) {
    if (elf_version(EV_CURRENT) == EV_NONE) return std::nullopt;
    ElfPtr elf(elf_begin(fd, ELF_C_READ_MMAP, nullptr));
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

// Failures are cached too, so a missing file is not reopened for every frame.
const UserSymbolizer::File& UserSymbolizer::file(const ProcessMaps& maps, const Mapping& m) {
    const std::string key = ProcessMaps::file_key(m);
    if (const File* known = files_.find(key)) return *known;
    File entry;
    OpenedFile opened = maps.open_file(m, kMaxElfFileBytes);
    if (opened) {
        if (auto syms = ElfSymbols::load(opened.file->fd())) {
            entry.symbols = std::make_shared<const ElfSymbols>(std::move(*syms));
            entry.debug_key = debug_info_.identify(*opened.file, std::string(m.path), key);
            if (auto table = GoPclntab::load(opened.file->fd())) {
                entry.go = true;
                go_tables_.insert(key, std::make_shared<const GoPclntab>(std::move(*table)));
            }
        }
    } else if (opened.refusal != Refusal::Missing) {
        spdlog::debug("symbols: {}", opened.reason);
    }
    return files_.insert(key, std::move(entry));
}

std::shared_ptr<const GoPclntab> UserSymbolizer::go_table(const ProcessMaps& maps,
                                                          const Mapping& m) {
    const std::string key = ProcessMaps::file_key(m);
    if (const auto* known = go_tables_.find(key)) return *known;
    std::shared_ptr<const GoPclntab> table;
    if (OpenedFile opened = maps.open_file(m, kMaxElfFileBytes)) {
        if (auto loaded = GoPclntab::load(opened.file->fd()))
            table = std::make_shared<const GoPclntab>(std::move(*loaded));
    }
    return go_tables_.insert(key, std::move(table));
}

std::vector<Frame> UserSymbolizer::symbolize_inlined(const ProcessMaps& maps, uint64_t addr) {
    const Mapping* m = maps.find(addr);
    std::vector<Frame> frames{Frame{kUnknown, m ? std::string(m->path) : ""}};
    Frame& frame = frames.front();
    frame.address = addr;
    if (m == nullptr) return frames;
    frame.file_offset = addr - m->start + m->file_offset;
    const File& f = file(maps, *m);
    if (!f.symbols) return frames;
    if (DebugInfoCache::is_build_id(f.debug_key)) frame.build_id = f.debug_key;
    auto vaddr = f.symbols->offset_to_vaddr(*frame.file_offset);
    if (!vaddr) return frames;
    // Go's own table first: it names stripped binaries too, and its lines are the compiler's.
    if (f.go) {
        const auto table = go_table(maps, *m);
        if (auto go = table ? table->lookup(*vaddr) : std::nullopt) {
            auto named = [&frame](std::string function, std::string file, uint32_t line) {
                Frame out = frame;  // where the code is: the same for every call inlined there
                out.function = std::move(function);
                out.file = std::move(file);
                if (line > 0) out.line = static_cast<int>(line);
                return out;
            };
            std::vector<Frame> chain;
            for (GoInlinedCall& call : go->inlined)
                chain.push_back(named(std::move(call.function), std::move(call.file), call.line));
            chain.push_back(named(std::move(go->function), std::move(go->file), go->line));
            return chain;
        }
    }
    if (auto name = f.symbols->lookup(*vaddr)) frame.function = demangle(*name);
    debug_info_.annotate_identified(f.debug_key, *vaddr, frame);
    return frames;
}

}  // namespace cwtrace
