// DWARF file:line and debug-file symbols through libdwfl's offline mode; see debug_info.h.
#include "symbols/debug_info.h"

#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <unistd.h>

#include "symbols/demangle.h"

namespace cwtrace {
namespace {

constexpr const char* kUnknown = "[unknown]";

std::string to_hex(const unsigned char* bytes, size_t n) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < n; ++i) {
        out += kDigits[bytes[i] >> 4];
        out += kDigits[bytes[i] & 15];
    }
    return out;
}

}  // namespace

std::optional<std::string> read_build_id(const std::string& path) {
    if (elf_version(EV_CURRENT) == EV_NONE) return std::nullopt;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::optional<std::string> id;
    if (Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr)) {
        const void* bytes = nullptr;
        ssize_t n = elf_kind(elf) == ELF_K_ELF ? dwelf_elf_gnu_build_id(elf, &bytes) : -1;
        if (n > 0) id = to_hex(static_cast<const unsigned char*>(bytes), static_cast<size_t>(n));
        elf_end(elf);
    }
    ::close(fd);
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
    auto impl = std::make_unique<Impl>();
    impl->debug_root = debug_root;
    impl->debuginfo_path = impl->debug_root.data();
    impl->callbacks.find_elf = dwfl_build_id_find_elf;
    impl->callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
    impl->callbacks.section_address = dwfl_offline_section_address;
    impl->callbacks.debuginfo_path = &impl->debuginfo_path;
    impl->dwfl = dwfl_begin(&impl->callbacks);
    if (!impl->dwfl) return nullptr;
    dwfl_report_begin(impl->dwfl);
    impl->module = dwfl_report_offline(impl->dwfl, path.c_str(), path.c_str(), -1);
    dwfl_report_end(impl->dwfl, nullptr, nullptr);
    if (!impl->module || !dwfl_module_getelf(impl->module, &impl->bias)) return nullptr;
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

const DebugInfo* DebugInfoCache::info_for(const std::string& path, std::string& identity) {
    auto id = identity_.find(path);
    if (id == identity_.end())
        id = identity_.emplace(path, read_build_id(path).value_or("path:" + path)).first;
    identity = id->second;
    auto it = infos_.find(identity);
    if (it == infos_.end()) it = infos_.emplace(identity, DebugInfo::load(path, debug_root_)).first;
    return it->second.get();
}

void DebugInfoCache::annotate(const std::string& path, uint64_t vaddr, Frame& frame) {
    std::string identity;
    const DebugInfo* info = info_for(path, identity);
    if (!info) return;
    auto [it, fresh] = answers_[identity].try_emplace(vaddr);
    Answer& answer = it->second;
    if (fresh) {
        answer.source = info->source(vaddr);
        if (frame.function == kUnknown) answer.function = info->function(vaddr);
    }
    if (answer.source) {
        frame.file = answer.source->file;
        frame.line = static_cast<int>(answer.source->line);
    }
    if (frame.function == kUnknown && answer.function) frame.function = *answer.function;
}

}  // namespace cwtrace
