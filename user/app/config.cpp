#include "app/config.h"

#include <sys/stat.h>

#include <charconv>
#include <string_view>

#include "util/display.h"

namespace cwtrace {
namespace {

// A size given in the environment: a whole number from 1 to 2^32 - 1; 0 (the default) otherwise,
// with a warning when something else was set.
uint32_t size_of(const char* name, const char* value, std::vector<std::string>& warnings) {
    if (!value) return 0;
    const std::string_view text(value);
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || end != text.data() + text.size() || n == 0 || n > UINT32_MAX) {
        warnings.push_back("ignoring " + std::string(name) + "=" + std::string(text) +
                           ": not a size");
        return 0;
    }
    return static_cast<uint32_t>(n);
}

}  // namespace

EnvConfig read_env_config(const std::function<const char*(const char*)>& lookup) {
    EnvConfig config;
    auto size = [&](const char* name) { return size_of(name, lookup(name), config.warnings); };
    config.origin_map_entries = size("CWTRACE_ORIGIN_MAP_ENTRIES");
    config.stack_map_entries = size("CWTRACE_STACK_MAP_ENTRIES");
    config.ringbuf_bytes = size("CWTRACE_RINGBUF_BYTES");
    config.copy_ringbuf_bytes = size("CWTRACE_COPY_RINGBUF_BYTES");
    config.quick_ring_slots = size("CWTRACE_QUICK_RING_SLOTS");
    config.probed_reads = lookup("CWTRACE_PROBED_READS") != nullptr;
    config.no_bpf_loop = lookup("CWTRACE_NO_BPF_LOOP") != nullptr;
    config.proc_owners = lookup("CWTRACE_PROC_OWNERS") != nullptr;
    if (const char* tracefs = lookup("CWTRACE_TRACEFS")) config.tracefs = tracefs;
    if (const char* root = lookup("CWTRACE_HOST_ROOT"); root && *root) {
        struct stat st;
        if (stat(root, &st) == 0 && S_ISDIR(st.st_mode))
            config.host_root = root;
        else
            config.warnings.push_back("ignoring CWTRACE_HOST_ROOT=" + display_safe(root) +
                                      ": not a directory");
    }
    return config;
}

}  // namespace cwtrace
