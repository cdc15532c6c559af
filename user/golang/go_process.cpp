#include "golang/go_process.h"

#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "util/untrusted_file.h"

namespace cwtrace {
namespace {

constexpr std::string_view kMagic = "\xff Go buildinf:";
constexpr size_t kHeaderBytes = 32;
constexpr size_t kMaxVersionBytes = 128;  // "go1.22.0 X:boringcrypto,..." fits many times
constexpr size_t kMaxBuildInfoBytes = 1 << 20;

uint64_t read_word(std::string_view bytes, size_t size, bool big_endian) {
    uint64_t value = 0;
    for (size_t i = 0; i < size; ++i) {
        const auto byte = static_cast<uint8_t>(bytes[big_endian ? i : size - 1 - i]);
        value = value << 8 | byte;
    }
    return value;
}

bool printable(std::string_view text) {
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](char c) { return c > ' ' - 1 && c < 0x7f; });
}

struct ElfDeleter {
    void operator()(Elf* elf) const { elf_end(elf); }
};

struct Segment {
    uint64_t offset, vaddr, filesz;
};

std::optional<std::string> read_file_at(int fd, uint64_t offset, size_t size) {
    std::string out(size, '\0');
    if (pread(fd, out.data(), size, static_cast<off_t>(offset)) != static_cast<ssize_t>(size))
        return std::nullopt;
    return out;
}

// The build info version of the ELF file open at `fd`.
std::optional<std::string> file_go_version(int fd) {
    if (elf_version(EV_CURRENT) == EV_NONE) return std::nullopt;
    std::unique_ptr<Elf, ElfDeleter> elf(elf_begin(fd, ELF_C_READ_MMAP, nullptr));
    size_t shstrndx = 0, phnum = 0;
    if (!elf || elf_kind(elf.get()) != ELF_K_ELF || elf_getshdrstrndx(elf.get(), &shstrndx) ||
        elf_getphdrnum(elf.get(), &phnum))
        return std::nullopt;
    std::vector<Segment> loads;
    for (size_t i = 0; i < phnum; ++i) {
        GElf_Phdr ph;
        if (gelf_getphdr(elf.get(), static_cast<int>(i), &ph) && ph.p_type == PT_LOAD)
            loads.push_back({ph.p_offset, ph.p_vaddr, ph.p_filesz});
    }
    const VaddrReader read = [&](uint64_t vaddr, size_t size) -> std::optional<std::string> {
        for (const Segment& s : loads)
            if (vaddr >= s.vaddr && size <= s.filesz && vaddr - s.vaddr <= s.filesz - size)
                return read_file_at(fd, s.offset + (vaddr - s.vaddr), size);
        return std::nullopt;
    };
    for (Elf_Scn* scn = elf_nextscn(elf.get(), nullptr); scn; scn = elf_nextscn(elf.get(), scn)) {
        GElf_Shdr shdr;
        if (!gelf_getshdr(scn, &shdr) || shdr.sh_type == SHT_NOBITS) continue;
        const char* name = elf_strptr(elf.get(), shstrndx, shdr.sh_name);
        if (!name || std::strcmp(name, ".go.buildinfo") != 0) continue;
        const auto size = static_cast<size_t>(std::min<uint64_t>(shdr.sh_size, kMaxBuildInfoBytes));
        auto bytes = read_file_at(fd, shdr.sh_offset, size);
        return bytes ? go_buildinfo_version(*bytes, read) : std::nullopt;
    }
    return std::nullopt;
}

std::string exe_path(pid_t pid) {
    char buf[4096];
    const std::string link = "/proc/" + std::to_string(pid) + "/exe";
    const ssize_t n = readlink(link.c_str(), buf, sizeof buf);
    return n > 0 && static_cast<size_t>(n) < sizeof buf ? std::string(buf, static_cast<size_t>(n))
                                                        : std::string();
}

}  // namespace

std::optional<std::string> go_buildinfo_version(std::string_view section, const VaddrReader& read) {
    if (section.size() < kHeaderBytes || !section.starts_with(kMagic)) return std::nullopt;
    const auto ptr_size = static_cast<uint8_t>(section[14]);
    const auto flags = static_cast<uint8_t>(section[15]);
    if (flags & 2) {  // Go 1.18+: a varint length, then the version's bytes
        uint64_t length = 0;
        size_t at = kHeaderBytes;
        for (int shift = 0; at < section.size() && shift < 64; shift += 7) {
            const auto byte = static_cast<uint8_t>(section[at++]);
            length |= uint64_t{byte & 0x7fu} << shift;
            if (!(byte & 0x80)) break;
        }
        if (length == 0 || length > kMaxVersionBytes || length > section.size() - at)
            return std::nullopt;
        std::string version(section.substr(at, length));
        return printable(version) ? std::optional(version) : std::nullopt;
    }
    // Before 1.18: a pointer to runtime.buildVersion, a string header (data, length).
    if ((ptr_size != 4 && ptr_size != 8) || !read) return std::nullopt;
    const bool big_endian = flags & 1;
    const uint64_t string_addr = read_word(section.substr(16), ptr_size, big_endian);
    auto header = read(string_addr, size_t{2} * ptr_size);
    if (!header) return std::nullopt;
    const uint64_t data = read_word(*header, ptr_size, big_endian);
    const uint64_t length =
        read_word(std::string_view(*header).substr(ptr_size), ptr_size, big_endian);
    if (length == 0 || length > kMaxVersionBytes) return std::nullopt;
    auto version = read(data, static_cast<size_t>(length));
    return version && printable(*version) ? version : std::nullopt;
}

std::optional<GoProgram> find_go(const ProcessMaps& maps) {
    const std::string exe = exe_path(maps.pid());
    if (exe.empty()) return std::nullopt;
    GoProgram program;
    const Mapping* first = nullptr;
    for (const Mapping& m : maps.mappings()) {
        if (m.path != exe) continue;
        if (!first) first = &m;
        program.text_start = program.text_start ? std::min(program.text_start, m.start) : m.start;
        program.text_end = std::max(program.text_end, m.end);
    }
    if (!first) return std::nullopt;
    OpenedFile opened = maps.open_file(*first, kMaxElfFileBytes);
    if (!opened) return std::nullopt;
    auto version = file_go_version(opened.file->fd());
    if (!version) return std::nullopt;
    program.path = exe;
    program.version = *version;
    if (auto parsed = parse_go_version(*version)) program.offsets = go_offsets_for(*parsed);
    return program;
}

}  // namespace cwtrace
