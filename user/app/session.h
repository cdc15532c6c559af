// run(): preflight -> tracer -> drain loop -> reports. Returns the process exit status.
#pragma once

#include "app/cli.h"

namespace cwtrace {

int run(const Options& options);

}  // namespace cwtrace
