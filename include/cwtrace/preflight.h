// Checks run before anything is loaded, each failing with a one-line reason and a hint.
#pragma once

#include <string>

#include "cwtrace/result.h"

namespace cwtrace {

// CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN) in the effective set.
Result<bool> check_privileges();

// The kernel BTF that CO-RE relocations need: `btf_path`, or /sys/kernel/btf/vmlinux.
Result<bool> check_btf(const std::string& btf_path);

// libbpf attaches tracepoints through tracefs. Mounts it when missing (saying so once).
Result<bool> ensure_tracefs();

}  // namespace cwtrace
