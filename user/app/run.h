// run(): preflight -> session (open, load, attach) -> poll until stopped -> final report.
// Returns the process exit status.
#pragma once

#include "app/cli.h"

namespace cwtrace {

int run(const Options& options);

}  // namespace cwtrace
