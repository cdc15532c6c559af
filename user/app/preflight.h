// Checks run before anything is loaded, each failing with a one-line reason and a hint.
#pragma once

#include <string>

#include "util/result.h"

namespace cwtrace {

// CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN) in the effective set.
Result<void> check_privileges();

// The kernel BTF that CO-RE relocations need: `btf_path`, or /sys/kernel/btf/vmlinux.
Result<void> check_btf(const std::string& btf_path);

// Where tracefs is: the tracepoints' ids are read there to attach the programs. Mounts it at
// /sys/kernel/tracing when it is missing (saying so once). $CWTRACE_TRACEFS names another
// mount point (a container with the host's tracefs bind-mounted elsewhere; tests): `configured`.
Result<std::string> tracefs_root(const std::string& configured);

}  // namespace cwtrace
