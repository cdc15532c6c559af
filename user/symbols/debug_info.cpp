// DWARF file:line and debug-file symbols through libdwfl's offline mode; see debug_info.h.
#include "symbols/debug_info.h"

#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "symbols/debug_files.h"
#include "symbols/demangle.h"

namespace cwtrace {
namespace {

constexpr const char* kUnknown = "[unknown]";
constexpr size_t kMaxAnswersPerFile = 65536;

// See debug_files.h: libdw must not be handed a file whose altlink it would open itself.
bool altlink_safe(int fd) {
    Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
    if (!elf) return false;
    const bool safe = elf_kind(elf) == ELF_K_ELF && altlink_is_safe(elf);
    elf_end(elf);
    return safe;
}

// Go's linker always writes a build id of its own, a note named "Go" of type 4 in a PT_NOTE
// segment (also when section headers are gone), and a GNU one only when asked to.
constexpr uint32_t kGoBuildIdNote = 4;
constexpr size_t kMaxBuildIdBytes = 128;

std::optional<std::string> go_build_id(Elf* elf) {
    size_t phnum = 0;
    if (elf_getphdrnum(elf, &phnum) != 0) return std::nullopt;
    for (size_t i = 0; i < phnum; ++i) {
        GElf_Phdr phdr;
        if (!gelf_getphdr(elf, static_cast<int>(i), &phdr) || phdr.p_type != PT_NOTE) continue;
        Elf_Data* notes = elf_getdata_rawchunk(elf, static_cast<int64_t>(phdr.p_offset),
                                               phdr.p_filesz, ELF_T_NHDR);
        if (!notes) continue;
        GElf_Nhdr note;
        size_t name_at = 0, desc_at = 0;
        for (size_t at = 0; (at = gelf_getnote(notes, at, &note, &name_at, &desc_at)) > 0;) {
            const auto* bytes = static_cast<const unsigned char*>(notes->d_buf);
            if (note.n_type != kGoBuildIdNote || note.n_namesz < 3 ||
                std::memcmp(bytes + name_at, "Go", 3) != 0 || note.n_descsz == 0 ||
                note.n_descsz > kMaxBuildIdBytes)
                continue;
            return to_hex(bytes + desc_at, note.n_descsz);
        }
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> read_build_id(const std::string& path) {
    OpenedFile opened = UntrustedFile::open(path, capped_at(kMaxElfFileBytes));
    return opened ? read_build_id(opened.file->fd()) : std::nullopt;
}

std::optional<std::string> read_build_id(int fd) {
    if (elf_version(EV_CURRENT) == EV_NONE) return std::nullopt;
    std::optional<std::string> id;
    if (Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr)) {
        const void* bytes = nullptr;
        ssize_t n = elf_kind(elf) == ELF_K_ELF ? dwelf_elf_gnu_build_id(elf, &bytes) : -1;
        if (n > 0) id = to_hex(static_cast<const unsigned char*>(bytes), static_cast<size_t>(n));
        if (!id && elf_kind(elf) == ELF_K_ELF) id = go_build_id(elf);
        elf_end(elf);
    }
    return id;
}

struct DebugInfo::Impl {
    std::string debug_root;
    char* debuginfo_path = nullptr;  // points into debug_root
    Dwfl_Callbacks callbacks = {};
    Dwfl* dwfl = nullptr;
    Dwfl_Module* module = nullptr;
    GElf_Addr bias = 0;  // module address = ELF virtual address + bias

    ~Impl() {
        if (dwfl) dwfl_end(dwfl);
    }
};

DebugInfo::DebugInfo(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DebugInfo::~DebugInfo() = default;

std::unique_ptr<DebugInfo> DebugInfo::load(const std::string& path, const std::string& debug_root) {
    OpenedFile opened = UntrustedFile::open(path, capped_at(kMaxElfFileBytes));
    if (!opened) return nullptr;
    return load(std::move(*opened.file), path, debug_root);
}

std::unique_ptr<DebugInfo> DebugInfo::load(UntrustedFile file, const std::string& name,
                                           const std::string& debug_root) {
    if (elf_version(EV_CURRENT) == EV_NONE || !altlink_safe(file.fd())) return nullptr;
    auto impl = std::make_unique<Impl>();
    impl->debug_root = debug_root;
    impl->debuginfo_path = impl->debug_root.data();
    impl->callbacks.find_elf = dwfl_build_id_find_elf;
    impl->callbacks.find_debuginfo = find_debug_file;
    impl->callbacks.section_address = dwfl_offline_section_address;
    impl->callbacks.debuginfo_path = &impl->debuginfo_path;
    impl->dwfl = dwfl_begin(&impl->callbacks);
    if (!impl->dwfl) return nullptr;
    dwfl_report_begin(impl->dwfl);
    // libdwfl takes the descriptor over when it reports the module, and only then.
    const int fd = file.release();
    impl->module = dwfl_report_offline(impl->dwfl, name.c_str(), name.c_str(), fd);
    if (!impl->module) ::close(fd);
    dwfl_report_end(impl->dwfl, nullptr, nullptr);
    if (!impl->module) return nullptr;
    use_debug_root(impl->module, &impl->debug_root);
    if (!dwfl_module_getelf(impl->module, &impl->bias)) return nullptr;
    return std::unique_ptr<DebugInfo>(new DebugInfo(std::move(impl)));
}

std::optional<SourceLocation> DebugInfo::source(uint64_t vaddr) const {
    Dwfl_Line* line = dwfl_module_getsrc(impl_->module, vaddr + impl_->bias);
    if (!line) return std::nullopt;
    int lineno = 0;
    const char* file = dwfl_lineinfo(line, nullptr, &lineno, nullptr, nullptr, nullptr);
    if (!file || lineno <= 0) return std::nullopt;
    return SourceLocation{file, static_cast<uint32_t>(lineno)};
}

std::optional<std::string> DebugInfo::function(uint64_t vaddr) const {
    GElf_Off offset = 0;
    GElf_Sym sym;
    const char* name = dwfl_module_addrinfo(impl_->module, vaddr + impl_->bias, &offset, &sym,
                                            nullptr, nullptr, nullptr);
    if (!name || *name == '\0' || GELF_ST_TYPE(sym.st_info) != STT_FUNC) return std::nullopt;
    return demangle(name);
}

std::string DebugInfoCache::identify(const UntrustedFile& file, const std::string& name,
                                     const std::string& fallback_key) {
    std::string key =
        read_build_id(file.fd()).value_or(std::string(kFallbackPrefix) + fallback_key);
    if (!infos_.find(key)) {
        Entry entry;
        const int copy = ::dup(file.fd());
        if (copy >= 0)
            entry.info =
                DebugInfo::load(UntrustedFile::adopt(copy, file.size()), name, debug_root_);
        infos_.insert(key, std::move(entry));
    }
    return key;
}

void DebugInfoCache::annotate_identified(const std::string& key, uint64_t vaddr, Frame& frame) {
    Entry* entry = infos_.find(key);
    if (!entry || !entry->info) return;
    // A process decides how many addresses it has: answers start over past the bound.
    if (entry->answers.size() >= kMaxAnswersPerFile) entry->answers.clear();
    auto [it, fresh] = entry->answers.try_emplace(vaddr);
    Answer& answer = it->second;
    if (fresh) {
        answer.source = entry->info->source(vaddr);
        if (frame.function == kUnknown) answer.function = entry->info->function(vaddr);
    }
    if (answer.source) {
        frame.file = answer.source->file;
        frame.line = static_cast<int>(answer.source->line);
    }
    if (frame.function == kUnknown && answer.function) frame.function = *answer.function;
}

void DebugInfoCache::annotate(const std::string& path, uint64_t vaddr, Frame& frame) {
    OpenedFile opened = UntrustedFile::open(path, capped_at(kMaxElfFileBytes));
    if (!opened) return;
    annotate_identified(identify(*opened.file, path, path), vaddr, frame);
}

}  // namespace cwtrace
