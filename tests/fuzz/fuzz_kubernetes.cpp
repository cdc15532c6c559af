// libFuzzer target: kubelet's names, as a cgroup path and as log-tree entries, parsed. A pod UID
// found is always a dashed UUID or 32 hex digits taken from the input; names parsed always keep
// Kubernetes' rules, so what reaches a report is short and plain.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "owners/kubernetes.h"

namespace {

bool is_uid(const std::string& uid) {
    const auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
    if (uid.size() == 32) return std::all_of(uid.begin(), uid.end(), hex);
    if (uid.size() != 36) return false;
    for (size_t i = 0; i < uid.size(); ++i) {
        const bool separator = i == 8 || i == 13 || i == 18 || i == 23;
        if (separator ? uid[i] != '-' : !hex(uid[i])) return false;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace cwtrace;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (auto uid = pod_uid(text)) {
        check(is_uid(*uid));
        std::string written = *uid;  // as the systemd driver writes it, or as given
        std::replace(written.begin(), written.end(), '-', '_');
        check(text.find(*uid) != std::string_view::npos ||
              text.find(written) != std::string_view::npos);
    }
    if (auto pod = parse_pod_directory(text)) {
        check(is_dns_label(pod->namespace_name) && is_dns_subdomain(pod->pod) && is_uid(pod->uid));
        check(pod->namespace_name.size() + pod->pod.size() + pod->uid.size() + 2 == size);
    }
    if (auto log = parse_container_log(text)) {
        check(is_dns_label(log->first) && log->second.size() == 64);
        check(text.ends_with(log->first + "-" + log->second + ".log"));
    }
    return 0;
}
