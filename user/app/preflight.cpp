#include "app/preflight.h"

#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

namespace cwtrace {
namespace {

constexpr int kCapSysAdmin = 21;
constexpr int kCapPerfmon = 38;
constexpr int kCapBpf = 39;

// The effective capability set from /proc/self/status ("CapEff:\t000001ffffffffff").
uint64_t effective_caps() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("CapEff:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
    }
    return 0;
}

bool has(uint64_t caps, int cap) { return caps & (1ULL << cap); }

bool exists(const char* path) { return access(path, F_OK) == 0; }

}  // namespace

Result<void> check_privileges() {
    const uint64_t caps = effective_caps();
    if (has(caps, kCapSysAdmin) || (has(caps, kCapBpf) && has(caps, kCapPerfmon))) return Ok{};
    return Error{geteuid() == 0 ? "missing capabilities CAP_BPF and CAP_PERFMON"
                                : "permission denied: tracing needs root",
                 "run as root (sudo cwtrace ...), or grant CAP_BPF, CAP_PERFMON and "
                 "CAP_SYS_PTRACE"};
}

Result<void> check_btf(const std::string& btf_path) {
    const std::string path = btf_path.empty() ? "/sys/kernel/btf/vmlinux" : btf_path;
    if (exists(path.c_str())) return Ok{};
    return Error{"kernel BTF not found at " + path,
                 btf_path.empty() ? "cwtrace needs a kernel built with CONFIG_DEBUG_INFO_BTF=y, "
                                    "or a BTF file for it given with --btf PATH"
                                  : "give --btf the path of this kernel's BTF file"};
}

Result<std::string> tracefs_root(const std::string& configured) {
    if (!configured.empty()) {
        if (exists((configured + "/events").c_str())) return configured;
        return Error{"CWTRACE_TRACEFS=" + configured + " has no events directory",
                     "point CWTRACE_TRACEFS at a mounted tracefs, or unset it"};
    }
    for (const char* root : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"})
        if (exists((std::string(root) + "/events").c_str())) return std::string(root);
    if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) == 0 &&
        exists("/sys/kernel/tracing/events")) {
        spdlog::info("tracefs was not mounted: mounted it at /sys/kernel/tracing");
        return std::string("/sys/kernel/tracing");
    }
    return Error{
        std::string("tracefs is not mounted and mounting it failed: ") + std::strerror(errno),
        "mount -t tracefs tracefs /sys/kernel/tracing"};
}

}  // namespace cwtrace
