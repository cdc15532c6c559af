// What the running kernel offers cwtrace's programs, asked of the kernel itself before anything
// is loaded (libbpf's probes, the kfuncs in its BTF), never guessed from its version: distribution
// kernels backport features, and a version says nothing of a configuration.
#pragma once

#include <string>

#include "kernel/program_plan.h"
#include "util/result.h"

namespace cwtrace {

// `btf_path`: the kernel BTF to read (--btf), empty for the running kernel's. An error only when
// the kernel refuses to be asked (no privileges: the probes load programs and create maps).
Result<KernelFeatures> probe_kernel_features(const std::string& btf_path);

// uname -r.
std::string kernel_release();

}  // namespace cwtrace
