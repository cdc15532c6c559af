// Checks run before anything is loaded, each failing with a one-line reason and a hint.
#pragma once

#include <string>

#include "app/cli.h"
#include "app/config.h"
#include "util/capabilities.h"
#include "util/result.h"

namespace cwtrace {

// Privileges, BTF, tracefs, the metrics port: each failing with one line and a hint before
// anything is loaded. Then each capability the run lacks beyond tracing's is said once, with
// what it costs (app/capabilities). Returns where tracefs is.
Result<std::string> preflight(const Options& options, const EnvConfig& env);

// The kernel BTF that CO-RE relocations need: `btf_path`, or /sys/kernel/btf/vmlinux.
Result<void> check_btf(const std::string& btf_path);

// Where tracefs is: the tracepoints' ids are read there to attach the programs. Mounts it at
// /sys/kernel/tracing when it is missing (saying so once). $CWTRACE_TRACEFS names another
// mount point (a container with the host's tracefs bind-mounted elsewhere; tests): `configured`.
// tracefs is mode 0700: another user than its owner reads it with CAP_DAC_READ_SEARCH
// (`effective`), and mounting it takes CAP_SYS_ADMIN; each is named when it is what failed.
Result<std::string> tracefs_root(const std::string& configured, CapabilitySet effective);

}  // namespace cwtrace
