#include "kernel/program_plan.h"

namespace cwtrace {

Result<ProgramPlan> plan_programs(const KernelFeatures& kernel, const PlanRequest& request) {
    const std::string linux_ = "Linux " + kernel.release;
    if (!kernel.btf)
        return Error{linux_ + ": no kernel BTF (/sys/kernel/btf/vmlinux): cwtrace cannot run",
                     "use a kernel built with CONFIG_DEBUG_INFO_BTF=y, or give this kernel's BTF "
                     "file with --btf PATH"};
    if (!kernel.ringbuf)
        return Error{linux_ + ": no BPF ring buffer (Linux 5.8+): cwtrace cannot run",
                     "cwtrace needs Linux 5.8 or later"};
    ProgramPlan plan;
    if (!kernel.bpf_loop || request.no_bpf_loop) {
        // bpf_loop came in 5.17, bpf_rdonly_cast in 6.2: the compat programs serve all before.
        plan.variant = ProgramVariant::Compat;
        plan.python_frames = false;
        plan.fd_walk = false;
        plan.warnings.push_back(
            linux_ +
            (kernel.bpf_loop ? ": bpf_loop not used (CWTRACE_NO_BPF_LOOP)" : ": no bpf_loop") +
            ": Python frames off, owners from /proc");
        return plan;
    }
    // No warning without bpf_rdonly_cast: nothing is left out, the reads cost more (-v says).
    plan.variant = kernel.rdonly_cast && !request.probed_reads ? ProgramVariant::Direct
                                                               : ProgramVariant::Probed;
    return plan;
}

const char* variant_suffix(ProgramVariant variant) {
    switch (variant) {
        case ProgramVariant::Direct:
            return "";
        case ProgramVariant::Probed:
            return "_probed";
        case ProgramVariant::Compat:
            return "_compat";
    }
    return "";
}

// The integration harness looks for the first part ("kernel fields read ..."): keep it.
std::string describe(ProgramVariant variant) {
    switch (variant) {
        case ProgramVariant::Direct:
            return "kernel fields read by plain loads (bpf_rdonly_cast), loops by bpf_loop";
        case ProgramVariant::Probed:
            return "kernel fields read through bpf_probe_read_kernel(), loops by bpf_loop";
        case ProgramVariant::Compat:
            return "kernel fields read through bpf_probe_read_kernel(), bounded loops (_compat "
                   "programs, no bpf_loop)";
    }
    return "";
}

ProgramVariant fallback_of(ProgramVariant variant) {
    return variant == ProgramVariant::Direct ? ProgramVariant::Probed : variant;
}

}  // namespace cwtrace
