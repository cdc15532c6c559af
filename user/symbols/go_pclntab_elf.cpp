// Finding a Go binary's pclntab in its ELF file: the .gopclntab section (.data.rel.ro.gopclntab
// when the linker made it relocatable), else, for a file whose section headers are gone, a
// pcHeader in a read-only segment, as tools built on debug/gosym look for it.
#include <gelf.h>
#include <libelf.h>

#include <cstring>
#include <memory>
#include <string_view>

#include "symbols/go_pclntab.h"

namespace cwtrace {
namespace {

struct ElfCloser {
    void operator()(Elf* elf) const { elf_end(elf); }
};
using ElfPtr = std::unique_ptr<Elf, ElfCloser>;

// Where pcHeaders may begin when searched for: the linker aligns the table to a pointer.
constexpr uint64_t kHeaderAlign = 4;
// Candidates tried per segment: a magic in other data is rare, a thousand of them hostile.
constexpr int kMaxCandidates = 16;

std::vector<uint8_t> raw_bytes(Elf* elf, uint64_t offset, uint64_t size) {
    if (size == 0 || size > GoPclntab::kMaxBytes) return {};
    Elf_Data* data = elf_getdata_rawchunk(elf, static_cast<int64_t>(offset), size, ELF_T_BYTE);
    if (data == nullptr || data->d_buf == nullptr || data->d_size != size) return {};
    const auto* begin = static_cast<const uint8_t*>(data->d_buf);
    return {begin, begin + size};
}

struct Sections {
    std::vector<uint8_t> pclntab;
    uint64_t pclntab_vaddr = 0;
    uint64_t text = 0;  // .text's address: where Go's text starts
};

Sections read_sections(Elf* elf) {
    Sections out;
    size_t names = 0;
    if (elf_getshdrstrndx(elf, &names) != 0) return out;
    for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn; scn = elf_nextscn(elf, scn)) {
        GElf_Shdr shdr;
        if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != SHT_PROGBITS) continue;
        const char* name = elf_strptr(elf, names, shdr.sh_name);
        if (name == nullptr) continue;
        const std::string_view n = name;
        if (n == ".text") out.text = shdr.sh_addr;
        if (n == ".gopclntab" || n == ".data.rel.ro.gopclntab") {
            out.pclntab = raw_bytes(elf, shdr.sh_offset, shdr.sh_size);
            out.pclntab_vaddr = shdr.sh_addr;
        }
    }
    return out;
}

bool header_shape(const uint8_t* p) {
    const uint32_t le = p[0] | p[1] << 8 | p[2] << 16 | uint32_t{p[3]} << 24;
    const uint32_t be = p[3] | p[2] << 8 | p[1] << 16 | uint32_t{p[0]} << 24;
    const auto magic = [](uint32_t m) {
        return m == 0xfffffff1 || m == 0xfffffff0 || m == 0xfffffffa;
    };
    return (magic(le) || magic(be)) && p[4] == 0 && p[5] == 0 &&
           (p[6] == 1 || p[6] == 2 || p[6] == 4) && (p[7] == 4 || p[7] == 8);
}

// The loaded segments that are not code: where the pclntab, moduledata and go.func.* are.
std::vector<GoPclntab::Segment> data_segments(Elf* elf) {
    std::vector<GoPclntab::Segment> out;
    size_t phnum = 0;
    if (elf_getphdrnum(elf, &phnum) != 0) return out;
    for (size_t i = 0; i < phnum; ++i) {
        GElf_Phdr phdr;
        if (gelf_getphdr(elf, static_cast<int>(i), &phdr) == nullptr || phdr.p_type != PT_LOAD ||
            (phdr.p_flags & PF_X) != 0)
            continue;
        GoPclntab::Segment seg{phdr.p_vaddr, raw_bytes(elf, phdr.p_offset, phdr.p_filesz)};
        if (!seg.bytes.empty()) out.push_back(std::move(seg));
    }
    return out;
}

// A pcHeader in a segment; the table runs at most to the segment's end. Its address too.
std::optional<GoPclntab> search_segments(const std::vector<GoPclntab::Segment>& segments,
                                         uint64_t text, uint64_t& header_vaddr) {
    for (const GoPclntab::Segment& seg : segments) {
        const std::vector<uint8_t>& bytes = seg.bytes;
        int tried = 0;
        for (uint64_t at = 0; at + 64 <= bytes.size() && tried < kMaxCandidates;
             at += kHeaderAlign) {
            if (!header_shape(bytes.data() + at)) continue;
            ++tried;
            auto table =
                GoPclntab::parse({bytes.begin() + static_cast<ptrdiff_t>(at), bytes.end()}, text);
            if (table) {
                header_vaddr = seg.vaddr + at;
                return table;
            }
        }
    }
    return std::nullopt;
}

// Without section headers, Go's text starts where the first executable segment does (the
// linker puts nothing before it there but the ELF and program headers it skips).
uint64_t executable_start(Elf* elf) {
    size_t phnum = 0;
    if (elf_getphdrnum(elf, &phnum) != 0) return 0;
    for (size_t i = 0; i < phnum; ++i) {
        GElf_Phdr phdr;
        if (gelf_getphdr(elf, static_cast<int>(i), &phdr) != nullptr && phdr.p_type == PT_LOAD &&
            (phdr.p_flags & PF_X) != 0)
            return phdr.p_vaddr;
    }
    return 0;
}

}  // namespace

std::optional<GoPclntab> GoPclntab::load(int fd) {
    if (elf_version(EV_CURRENT) == EV_NONE) return std::nullopt;
    ElfPtr elf(elf_begin(fd, ELF_C_READ_MMAP, nullptr));
    if (!elf || elf_kind(elf.get()) != ELF_K_ELF) return std::nullopt;
    Sections sections = read_sections(elf.get());
    std::optional<GoPclntab> table;
    uint64_t header_vaddr = sections.pclntab_vaddr;
    std::vector<Segment> segments;
    if (!sections.pclntab.empty()) {
        table = parse(std::move(sections.pclntab), sections.text);
    } else {
        // Only a file without section headers is searched: every other ELF file (each library
        // a process maps) would otherwise be read whole.
        size_t shnum = 0;
        if (elf_getshdrnum(elf.get(), &shnum) != 0 || shnum > 0) return std::nullopt;
        segments = data_segments(elf.get());
        table = search_segments(segments, executable_start(elf.get()), header_vaddr);
    }
    if (table && table->layout_ != Layout::Go116) {
        if (segments.empty()) segments = data_segments(elf.get());
        table->attach_gofunc(segments, header_vaddr);
    }
    return table;
}

}  // namespace cwtrace
