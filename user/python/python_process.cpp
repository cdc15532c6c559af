#include "python/python_process.h"

#include <gelf.h>
#include <libelf.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string_view>

#include "util/hang_guard.h"
#include "util/reader_process.h"
#include "util/untrusted_file.h"

namespace cwtrace {
namespace {

constexpr size_t kMaxStrChars = 4096;
constexpr size_t kMaxLineTableBytes = 1 << 20;

struct ElfLoad {
    uint64_t offset, vaddr, filesz;
    bool exec;
};

// In the reader process: the bytes, or none when any of them could not be read.
ReaderReply read_memory(std::string_view args, int, const ReachedDevice&) {
    Bytes in(args);
    const auto pid = static_cast<pid_t>(in.number());
    const uint64_t addr = in.number();
    const uint64_t size = std::min<uint64_t>(in.number(), kMaxReaderReply);
    ReaderReply reply;
    if (!in.ok()) return reply;
    std::string bytes(size, '\0');
    iovec local{bytes.data(), bytes.size()};
    iovec remote{reinterpret_cast<void*>(addr), bytes.size()};
    if (process_vm_readv(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(size))
        reply.bytes = std::move(bytes);
    return reply;
}

const uint32_t kReadMemory = register_reader_operation(read_memory);

}  // namespace

struct PythonFiles::Layout {
    uint64_t vaddr = 0;  // of _PyRuntime
    std::vector<ElfLoad> loads;
};

namespace {

using RuntimeSymbol = PythonFiles::Layout;

struct ElfDeleter {
    void operator()(Elf* elf) const { elf_end(elf); }
};

std::optional<uint64_t> find_object(Elf* elf, std::string_view wanted) {
    for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn; scn = elf_nextscn(elf, scn)) {
        GElf_Shdr shdr;
        if (!gelf_getshdr(scn, &shdr) || (shdr.sh_type != SHT_DYNSYM && shdr.sh_type != SHT_SYMTAB))
            continue;
        Elf_Data* data = elf_getdata(scn, nullptr);
        if (!data || shdr.sh_entsize == 0) continue;
        const size_t count = data->d_size / shdr.sh_entsize;
        for (size_t i = 0; i < count; ++i) {
            GElf_Sym sym;
            if (!gelf_getsym(data, static_cast<int>(i), &sym)) break;
            if (sym.st_shndx == SHN_UNDEF || GELF_ST_TYPE(sym.st_info) != STT_OBJECT) continue;
            const char* name = elf_strptr(elf, shdr.sh_link, sym.st_name);
            if (name && wanted == name) return sym.st_value;
        }
    }
    return std::nullopt;
}

// _PyRuntime's address in the file and the file's loadable segments.
std::optional<RuntimeSymbol> runtime_symbol(int fd) {
    if (elf_version(EV_CURRENT) == EV_NONE) return std::nullopt;
    std::unique_ptr<Elf, ElfDeleter> elf(elf_begin(fd, ELF_C_READ_MMAP, nullptr));
    std::optional<RuntimeSymbol> out;
    size_t phnum = 0;
    if (elf && elf_kind(elf.get()) == ELF_K_ELF && elf_getphdrnum(elf.get(), &phnum) == 0) {
        if (auto vaddr = find_object(elf.get(), "_PyRuntime")) {
            out = RuntimeSymbol{*vaddr, {}};
            for (size_t i = 0; i < phnum; ++i) {
                GElf_Phdr ph;
                if (gelf_getphdr(elf.get(), static_cast<int>(i), &ph) && ph.p_type == PT_LOAD)
                    out->loads.push_back(
                        {ph.p_offset, ph.p_vaddr, ph.p_filesz, (ph.p_flags & PF_X) != 0});
            }
        }
    }
    return out;
}

// Load bias of the file mapped by `m` (an executable mapping): runtime address - ELF vaddr.
std::optional<uint64_t> load_bias(const Mapping& m, const std::vector<ElfLoad>& loads) {
    for (const ElfLoad& l : loads) {
        // The mapping starts at the page holding the segment's first byte.
        const uint64_t page_offset = l.offset & ~uint64_t{0xfff};
        if (!l.exec || m.file_offset < page_offset || m.file_offset >= l.offset + l.filesz)
            continue;
        return m.start - m.file_offset - (l.vaddr - l.offset);
    }
    return std::nullopt;
}

std::string_view basename(std::string_view path) {
    const size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

void append_utf8(std::string& out, uint32_t c) {
    if (c < 0x80) {
        out += static_cast<char>(c);
    } else if (c < 0x800) {
        out += static_cast<char>(0xc0 | (c >> 6));
        out += static_cast<char>(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
        out += static_cast<char>(0xe0 | (c >> 12));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (c & 0x3f));
    } else {
        out += static_cast<char>(0xf0 | (c >> 18));
        out += static_cast<char>(0x80 | ((c >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (c & 0x3f));
    }
}

}  // namespace

const PythonFiles::Layout* PythonFiles::get(const ProcessMaps& maps, const Mapping& m) {
    const std::string key = ProcessMaps::file_key(m);
    if (auto* known = cache_.find(key)) return known->get();
    std::shared_ptr<const Layout> layout;
    // A container's python, a deleted one: the mapped file itself, checked (untrusted_file.h).
    OpenedFile opened = maps.open_file(m, kMaxElfFileBytes);
    if (opened)
        if (auto symbol = runtime_symbol(opened.file->fd()))
            layout = std::make_shared<const Layout>(std::move(*symbol));
    return cache_.insert(key, std::move(layout)).get();
}

std::optional<PythonInterpreter> find_python(const ProcessMaps& maps, PythonFiles& files) {
    for (const Mapping& m : maps.mappings()) {
        auto version = python_version_of_file(basename(m.path));
        if (!version) continue;
        const PythonFiles::Layout* symbol = files.get(maps, m);
        if (!symbol) continue;
        auto bias = load_bias(m, symbol->loads);
        if (!bias) continue;
        return PythonInterpreter{*version, std::string(m.path), symbol->vaddr + *bias,
                                 python_offsets(*version)};
    }
    return std::nullopt;
}

// A process's memory may be mapped from a file its own FUSE daemon serves: a read there waits on
// the daemon, so it runs in the hang guard's reader, in pieces a reply holds.
bool ProcessMemory::read(uint64_t addr, void* out, size_t size) const {
    auto* bytes = static_cast<char*>(out);
    for (size_t done = 0; done < size;) {
        if (hung_) return false;
        const size_t piece = std::min(size - done, kMaxReaderReply);
        std::string why;
        bool slow = false;
        auto reply = hang_guard().call(
            {std::nullopt, pid_}, kReadMemory,
            Bytes().put(static_cast<uint64_t>(pid_)).put(addr + done).put(piece).take(), -1, why,
            &slow);
        if (!reply) {
            hung_ = slow;
            untrusted_file_stats().count(slow ? Refusal::Slow : Refusal::Unreadable);
            return false;
        }
        if (reply->fd >= 0) ::close(reply->fd);
        if (reply->bytes.size() != piece) return false;
        std::memcpy(bytes + done, reply->bytes.data(), piece);
        done += piece;
    }
    return true;
}

std::optional<uint64_t> ProcessMemory::read_u64(uint64_t addr) const {
    uint64_t value = 0;
    if (!read(addr, &value, sizeof value)) return std::nullopt;
    return value;
}

std::optional<std::string> read_python_str(const ProcessMemory& memory, const PythonOffsets& o,
                                           uint64_t addr) {
    uint64_t length = 0;
    uint32_t state = 0;
    if (!addr || !memory.read(addr + o.unicode_length, &length, sizeof length) ||
        !memory.read(addr + o.unicode_state, &state, sizeof state) || length > kMaxStrChars)
        return std::nullopt;
    // state: interned:2, kind:3, compact:1, ascii:1 (the same bits in 3.8-3.13).
    const unsigned kind = (state >> 2) & 7, compact = (state >> 5) & 1, ascii = (state >> 6) & 1;
    if (!compact || (kind != 1 && kind != 2 && kind != 4)) return std::nullopt;
    std::vector<uint8_t> raw(length * kind);
    const uint64_t data = addr + (ascii ? o.unicode_ascii_data : o.unicode_compact_data);
    if (!raw.empty() && !memory.read(data, raw.data(), raw.size())) return std::nullopt;
    std::string out;
    for (size_t i = 0; i < length; ++i) {
        uint32_t c = 0;
        std::memcpy(&c, raw.data() + i * kind, kind);  // little-endian code units
        append_utf8(out, c);
    }
    return out;
}

std::optional<PythonCode> read_python_code(const ProcessMemory& memory, const PythonOffsets& o,
                                           uint64_t code_addr) {
    std::vector<uint8_t> code(o.code_size);
    if (!memory.read(code_addr, code.data(), code.size())) return std::nullopt;
    auto field = [&](uint16_t offset) {
        uint64_t value = 0;
        std::memcpy(&value, code.data() + offset, sizeof value);
        return value;
    };
    PythonCode out;
    auto qualname = read_python_str(memory, o, field(o.code_qualname));
    if (!qualname) qualname = read_python_str(memory, o, field(o.code_name));
    auto filename = read_python_str(memory, o, field(o.code_filename));
    if (!qualname || !filename) return std::nullopt;
    out.qualname = std::move(*qualname);
    out.filename = std::move(*filename);
    int32_t first_line = 0;
    std::memcpy(&first_line, code.data() + o.code_firstlineno, sizeof first_line);
    out.first_line = first_line;

    const uint64_t table = field(o.code_linetable);
    int64_t size = 0;
    if (table && memory.read(table + o.bytes_size, &size, sizeof size) && size > 0 &&
        static_cast<uint64_t>(size) <= kMaxLineTableBytes) {
        out.line_table.resize(static_cast<size_t>(size));
        if (!memory.read(table + o.bytes_data, out.line_table.data(), out.line_table.size()))
            out.line_table.clear();
    }
    return out;
}

}  // namespace cwtrace
