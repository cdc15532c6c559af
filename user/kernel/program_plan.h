// Which BPF programs to load on this kernel, from what it has (KernelFeatures, probed before any
// load: features.h), and what is left out where a feature is missing. A pure function: the
// choice is tested without a kernel.
#pragma once

#include <string>
#include <vector>

#include "util/result.h"

namespace cwtrace {

// What the running kernel offers cwtrace's programs.
struct KernelFeatures {
    std::string release;       // uname -r, for the messages
    bool btf = false;          // kernel BTF (CO-RE needs it)
    bool ringbuf = false;      // BPF_MAP_TYPE_RINGBUF (5.8+)
    bool bpf_loop = false;     // the bpf_loop() helper (5.17+)
    bool rdonly_cast = false;  // the bpf_rdonly_cast() kfunc (6.2+)
};

// The variants of cwtrace.bpf.c's programs (bpf/common.bpf.h), by their name's suffix.
enum class ProgramVariant {
    Direct,  // "": kernel fields by plain loads (bpf_rdonly_cast), bpf_loop
    Probed,  // "_probed": kernel fields through bpf_probe_read_kernel(), bpf_loop
    Compat,  // "_compat": probed, no bpf_loop (bounded loops), task fields probed too
};

// What the user asked for, beside the kernel: CWTRACE_PROBED_READS, CWTRACE_NO_BPF_LOOP (tests
// of the older kernels' programs on a new one).
struct PlanRequest {
    bool probed_reads = false;
    bool no_bpf_loop = false;
};

struct ProgramPlan {
    ProgramVariant variant = ProgramVariant::Direct;
    bool python_frames = true;  // Python frames at openings (bpf_loop walks)
    bool fd_walk = true;        // owners by the BPF file-table walk (else /proc)
    // Each feature left out, one line each, naming the kernel: shown as warnings.
    std::vector<std::string> warnings;
};

// The programs to load, or the one-line reason cwtrace cannot run on this kernel.
Result<ProgramPlan> plan_programs(const KernelFeatures& kernel, const PlanRequest& request);

// The variant's name suffix ("", "_probed", "_compat") and what -v says of it.
const char* variant_suffix(ProgramVariant variant);
std::string describe(ProgramVariant variant);

// The variant to try when `variant`'s programs are refused (Direct -> Probed), or itself.
ProgramVariant fallback_of(ProgramVariant variant);

}  // namespace cwtrace
