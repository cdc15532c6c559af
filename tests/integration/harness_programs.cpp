// The integration tests' harness (see harness.h): cwtrace's BPF programs in the kernel, found by
// the names its objects define and by who holds them.
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "cwtrace.skel.h"
#include "fd_walk.skel.h"
#include "harness.h"

namespace cwtrace::testing {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

// The names of the programs in a skeleton's object (opened, not loaded).
void add_program_names(const void* elf, size_t size, std::vector<std::string>& names) {
    bpf_object* obj = bpf_object__open_mem(elf, size, nullptr);
    if (!obj) throw std::runtime_error("cannot open an embedded BPF object");
    bpf_program* prog;
    bpf_object__for_each_program(prog, obj) names.emplace_back(bpf_program__name(prog));
    bpf_object__close(obj);
}

// A program's full name: the BTF name of its first function (the kernel's own is cut at 15).
std::string full_name(int fd, const bpf_prog_info& brief) {
    bpf_func_info func = {};
    bpf_prog_info info = {};
    info.nr_func_info = 1;
    info.func_info_rec_size = sizeof func;
    info.func_info = reinterpret_cast<uintptr_t>(&func);
    uint32_t len = sizeof info;
    if (brief.btf_id == 0 || bpf_obj_get_info_by_fd(fd, &info, &len) || info.nr_func_info == 0)
        return brief.name;
    std::unique_ptr<btf, void (*)(btf*)> types(btf__load_from_kernel_by_id(brief.btf_id),
                                               btf__free);
    const btf_type* t = types ? btf__type_by_id(types.get(), func.type_id) : nullptr;
    return t ? btf__name_by_offset(types.get(), t->name_off) : brief.name;
}

// Program `id` when it is one of cwtrace's: its full name.
std::optional<BpfProgram> cwtrace_program(uint32_t id) {
    const int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) return std::nullopt;  // gone meanwhile
    bpf_prog_info info = {};
    uint32_t len = sizeof info;
    std::optional<BpfProgram> found;
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) {
        const std::string name = full_name(fd, info);
        if (contains(cwtrace_program_names(), name)) found = BpfProgram{id, name, false};
    }
    close(fd);
    return found;
}

// The ids of the programs attached by a BPF link.
std::set<uint32_t> linked_program_ids() {
    std::set<uint32_t> ids;
    for (uint32_t id = 0; bpf_link_get_next_id(id, &id) == 0;) {
        const int fd = bpf_link_get_fd_by_id(id);
        if (fd < 0) continue;
        bpf_link_info info = {};
        uint32_t len = sizeof info;
        if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) ids.insert(info.prog_id);
        close(fd);
    }
    return ids;
}

std::vector<BpfProgram> cwtrace_programs_among(const std::set<uint32_t>& ids) {
    const std::set<uint32_t> linked = linked_program_ids();
    std::vector<BpfProgram> found;
    for (uint32_t id : ids) {
        if (auto prog = cwtrace_program(id)) {
            prog->attached = linked.count(id) > 0;
            found.push_back(*prog);
        }
    }
    return found;
}

std::set<uint32_t> all_program_ids() {
    std::set<uint32_t> ids;
    for (uint32_t id = 0; bpf_prog_get_next_id(id, &id) == 0;) ids.insert(id);
    return ids;
}

}  // namespace

const std::vector<std::string>& cwtrace_program_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> n;
        size_t size = 0;
        const void* elf = cwtrace_bpf__elf_bytes(&size);
        add_program_names(elf, size, n);
        elf = fd_walk_bpf__elf_bytes(&size);
        add_program_names(elf, size, n);
        return n;
    }();
    return names;
}

std::vector<std::string> attached_program_names(bool probed_reads) {
    std::vector<std::string> names;
    size_t size = 0;
    const void* elf = cwtrace_bpf__elf_bytes(&size);
    add_program_names(elf, size, names);
    // Of a program and its twins (_probed, _compat: bpf/common.bpf.h), the variant's one: the
    // _compat ones (for kernels without bpf_loop) when the run says CWTRACE_NO_BPF_LOOP.
    const std::string wanted = std::getenv("CWTRACE_NO_BPF_LOOP") ? "_compat"
                               : probed_reads                     ? "_probed"
                                                                  : "";
    const auto other_variant = [&](const std::string& name) {
        const std::string suffix = name.ends_with("_probed")   ? "_probed"
                                   : name.ends_with("_compat") ? "_compat"
                                                               : "";
        const bool twin = !suffix.empty() || contains(names, name + "_probed");
        return twin && suffix != wanted;
    };
    std::erase_if(names, other_variant);
    return names;
}

std::vector<BpfProgram> cwtrace_programs() { return cwtrace_programs_among(all_program_ids()); }

std::vector<BpfProgram> cwtrace_programs_held_by(pid_t pid) {
    // Each descriptor of a program or link says which program in its fdinfo ("prog_id:\tN").
    std::set<uint32_t> ids;
    std::error_code ec;
    const std::string dir = "/proc/" + std::to_string(pid) + "/fdinfo";
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        std::ifstream in(entry.path());
        std::string key;
        uint64_t value;
        while (in >> key) {
            if (key == "prog_id:" && in >> value) ids.insert(static_cast<uint32_t>(value));
        }
    }
    return cwtrace_programs_among(ids);
}

uint32_t last_bpf_program_id() {
    const std::set<uint32_t> ids = all_program_ids();
    return ids.empty() ? 0 : *ids.rbegin();
}

std::vector<BpfProgram> cwtrace_programs_since(uint32_t last_id,
                                               std::chrono::milliseconds patience) {
    const auto deadline = Clock::now() + patience;
    for (;;) {
        std::set<uint32_t> ids = all_program_ids();
        ids.erase(ids.begin(), ids.upper_bound(last_id));
        auto found = cwtrace_programs_among(ids);
        if (found.empty() || Clock::now() >= deadline) return found;
        std::this_thread::sleep_for(50ms);
    }
}

std::vector<std::string> cwtrace_bpf_objects() {
    std::vector<std::string> lines;
    for (const BpfProgram& p : cwtrace_programs())
        lines.push_back(std::to_string(p.id) + " " + p.name);
    return lines;
}

std::vector<std::string> new_cwtrace_bpf_objects(const std::vector<std::string>& before) {
    std::vector<std::string> added;
    for (const auto& line : cwtrace_bpf_objects())
        if (!contains(before, line)) added.push_back(line);
    return added;
}

void wait_unloaded(const std::vector<std::string>& before) {
    for (int i = 0; i < 50 && !new_cwtrace_bpf_objects(before).empty(); ++i)
        std::this_thread::sleep_for(100ms);
}

}  // namespace cwtrace::testing
