#include "app/preflight.h"

#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "app/capabilities.h"

namespace cwtrace {
namespace {

constexpr const char* kTracefs = "/sys/kernel/tracing";

// 0 when `dir`/events is there, else the errno of looking: stat(), not access(), which checks
// with the real uid and drops every capability of a user other than root.
int events_error(const std::string& dir) {
    struct stat st;
    return stat((dir + "/events").c_str(), &st) == 0 ? 0 : errno;
}

Error unreadable(const std::string& dir, CapabilitySet effective) {
    if (has_capability(effective, kCapDacReadSearch) || has_capability(effective, kCapDacOverride))
        return Error{"cannot read tracefs at " + dir + ": permission denied",
                     "is it mounted with a mode or owner of its own? ls -ld " + dir};
    return Error{"cannot read tracefs at " + dir + " (mode 0700): no CAP_DAC_READ_SEARCH",
                 "run as root, or grant CAP_DAC_READ_SEARCH with the tracing capabilities "
                 "(README \"Permissions\")"};
}

}  // namespace

Result<std::string> preflight(const Options& options, const EnvConfig& env) {
    const CapabilitySet effective = effective_capabilities();
    if (auto tracing = check_tracing_capabilities(effective); !tracing) return tracing.error();
    if (auto btf = check_btf(options.btf_path); !btf) return btf.error();
    auto tracefs = tracefs_root(env.tracefs, effective);
    if (!tracefs) return tracefs;
    std::optional<uint16_t> port;
    if (options.metrics_addr) port = options.metrics_addr->port;
    const PrivilegeScene scene = observe_scene(port, effective);
    if (auto bindable = check_metrics_port(effective, scene); !bindable) return bindable.error();
    for (const CapabilityLoss& loss : capability_losses(effective, scene))
        spdlog::warn("no {}: {}", loss.capability, loss.cost);
    for (const std::string& loss : namespace_losses(scene)) spdlog::warn("{}", loss);
    return tracefs;
}

Result<void> check_btf(const std::string& btf_path) {
    const std::string path = btf_path.empty() ? "/sys/kernel/btf/vmlinux" : btf_path;
    struct stat st;
    if (stat(path.c_str(), &st) == 0) return Ok{};
    return Error{"kernel BTF not found at " + path,
                 btf_path.empty() ? "cwtrace needs a kernel built with CONFIG_DEBUG_INFO_BTF=y, "
                                    "or a BTF file for it given with --btf PATH"
                                  : "give --btf the path of this kernel's BTF file"};
}

Result<std::string> tracefs_root(const std::string& configured, CapabilitySet effective) {
    if (!configured.empty()) {
        const int err = events_error(configured);
        if (err == 0) return configured;
        if (err == EACCES) return unreadable(configured, effective);
        return Error{"CWTRACE_TRACEFS=" + configured + " has no events directory",
                     "point CWTRACE_TRACEFS at a mounted tracefs, or unset it"};
    }
    for (const std::string root : {kTracefs, "/sys/kernel/debug/tracing"}) {
        const int err = events_error(root);
        if (err == 0) return root;
        // Mounted but closed to us: mounting again would not help.
        if (err == EACCES) return unreadable(root, effective);
    }
    if (mount("tracefs", kTracefs, "tracefs", 0, nullptr) == 0 && events_error(kTracefs) == 0) {
        spdlog::info("tracefs was not mounted: mounted it at {}", kTracefs);
        return std::string(kTracefs);
    }
    const int err = errno;
    if (err == EPERM && !has_capability(effective, kCapSysAdmin))
        return Error{"tracefs is not mounted, and mounting it needs CAP_SYS_ADMIN",
                     std::string("mount -t tracefs tracefs ") + kTracefs + " as root"};
    return Error{
        std::string("tracefs is not mounted and mounting it failed: ") + std::strerror(err),
        std::string("mount -t tracefs tracefs ") + kTracefs};
}

}  // namespace cwtrace
