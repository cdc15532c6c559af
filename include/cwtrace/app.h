// run(): preflight -> tracer -> drain loop -> reports. Returns the process exit status.
#pragma once

#include "cwtrace/cli.h"

namespace cwtrace {

int run(const Options& options);

}  // namespace cwtrace
