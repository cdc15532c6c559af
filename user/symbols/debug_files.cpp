// Separate debug files found only under the debug root; see debug_files.h.
#include "symbols/debug_files.h"

#include <gelf.h>

#include <cstring>
#include <string_view>

#include "util/untrusted_file.h"

namespace cwtrace {
namespace {

constexpr std::string_view kSystemDebugRoot = "/usr/lib/debug/";

// A path under the debug root, which root owns: its symlinks are root's to make.
int open_debug_file(const std::string& path, char** debuginfo_file_name) {
    FileRules rules;
    rules.max_bytes = kMaxDebugFileBytes;
    rules.follow_symlinks = true;
    OpenedFile opened = UntrustedFile::open(path, rules);
    if (!opened) return -1;
    *debuginfo_file_name = strdup(path.c_str());
    return opened.file->release();
}

bool is_plain_name(std::string_view name) {
    return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

}  // namespace

std::string to_hex(const unsigned char* bytes, size_t n) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < n; ++i) {
        out += kDigits[bytes[i] >> 4];
        out += kDigits[bytes[i] & 15];
    }
    return out;
}

int find_debug_file(Dwfl_Module* mod, void** userdata, const char* modname, GElf_Addr, const char*,
                    const char* debuglink_file, GElf_Word, char** debuginfo_file_name) {
    const auto* root = static_cast<const std::string*>(userdata ? *userdata : nullptr);
    if (!root || root->empty()) return -1;
    const unsigned char* bits = nullptr;
    GElf_Addr vaddr = 0;
    const int len = dwfl_module_build_id(mod, &bits, &vaddr);
    if (len > 1) {
        const std::string id = to_hex(bits, static_cast<size_t>(len));
        const int fd =
            open_debug_file(*root + "/.build-id/" + id.substr(0, 2) + "/" + id.substr(2) + ".debug",
                            debuginfo_file_name);
        if (fd >= 0) return fd;
    }
    // The debuglink name, in the debug root's copy of the file's directory (as gdb looks).
    if (debuglink_file && modname && is_plain_name(debuglink_file)) {
        std::string_view dir(modname);
        dir = dir.substr(0, dir.rfind('/') == std::string_view::npos ? 0 : dir.rfind('/'));
        if (dir.find("/..") == std::string_view::npos)
            return open_debug_file(*root + std::string(dir) + "/" + debuglink_file,
                                   debuginfo_file_name);
    }
    return -1;
}

void use_debug_root(Dwfl_Module* mod, const std::string* root) {
    void** userdata = nullptr;
    if (dwfl_module_info(mod, &userdata, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr) &&
        userdata)
        *userdata = const_cast<std::string*>(root);
}

bool altlink_is_safe(Elf* elf) {
    size_t shstrndx = 0;
    if (elf_getshdrstrndx(elf, &shstrndx) != 0) return false;
    for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn; scn = elf_nextscn(elf, scn)) {
        GElf_Shdr shdr;
        if (!gelf_getshdr(scn, &shdr)) return false;
        const char* name = elf_strptr(elf, shstrndx, shdr.sh_name);
        if (!name || std::strcmp(name, ".gnu_debugaltlink") != 0) continue;
        Elf_Data* data = elf_getdata(scn, nullptr);
        if (!data || !data->d_buf) return false;
        const auto* text = static_cast<const char*>(data->d_buf);
        const std::string_view path(text, strnlen(text, data->d_size));
        return path.starts_with(kSystemDebugRoot) && path.find("/..") == std::string_view::npos;
    }
    return true;
}

}  // namespace cwtrace
