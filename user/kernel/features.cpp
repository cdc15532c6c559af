#include "kernel/features.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "kernel/load_error.h"

namespace cwtrace {
namespace {

// A libbpf probe's answer (1 yes, 0 no, -errno): a refusal for want of privileges is an error;
// any other failure counts as the feature missing (said with -v).
Result<bool> answer(const char* what, int probed) {
    if (probed >= 0) return probed == 1;
    if (probed == -EPERM || probed == -EACCES)
        return classify_load_failure("feature probe (" + std::string(what) + ")", probed, {},
                                     kernel_release());
    spdlog::debug("probing the kernel for {}: {}: taken as missing", what, std::strerror(-probed));
    return false;
}

// libbpf's probes answer "no" when bpf() is refused outright (no privileges, a seccomp filter):
// a map of the oldest kind is created first, so that such a refusal is named for what it is.
Result<void> bpf_allowed() {
    const int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, nullptr, 4, 4, 1, nullptr);
    if (fd >= 0) {
        close(fd);
        return Ok{};
    }
    return classify_load_failure("map creation", errno, {}, kernel_release());
}

}  // namespace

std::string kernel_release() {
    utsname u = {};
    if (uname(&u)) return "?";
    return u.release;
}

Result<KernelFeatures> probe_kernel_features(const std::string& btf_path) {
    if (auto allowed = bpf_allowed(); !allowed) return allowed.error();
    KernelFeatures f;
    f.release = kernel_release();
    btf* vmlinux =
        btf_path.empty() ? btf__load_vmlinux_btf() : btf__parse(btf_path.c_str(), nullptr);
    f.btf = vmlinux != nullptr;
    // Kfuncs are declared in the running kernel's BTF; a --btf file is for a kernel without BTF,
    // older than any kfunc cwtrace calls.
    if (vmlinux)
        f.rdonly_cast = btf__find_by_name_kind(vmlinux, "bpf_rdonly_cast", BTF_KIND_FUNC) >= 0;
    btf__free(vmlinux);
    auto ringbuf =
        answer("the ring buffer", libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr));
    if (!ringbuf) return ringbuf.error();
    f.ringbuf = *ringbuf;
    auto loop = answer(
        "bpf_loop", libbpf_probe_bpf_helper(BPF_PROG_TYPE_RAW_TRACEPOINT, BPF_FUNC_loop, nullptr));
    if (!loop) return loop.error();
    f.bpf_loop = *loop;
    spdlog::debug("Linux {}: BTF {}, ring buffer {}, bpf_loop {}, bpf_rdonly_cast {}", f.release,
                  f.btf ? "yes" : "no", f.ringbuf ? "yes" : "no", f.bpf_loop ? "yes" : "no",
                  f.rdonly_cast ? "yes" : "no");
    return f;
}

}  // namespace cwtrace
