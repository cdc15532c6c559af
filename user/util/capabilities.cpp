// capget(2) read directly: libcap would be one more static library for one system call.
#include "util/capabilities.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace cwtrace {

CapabilitySet effective_capabilities() {
    __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (syscall(SYS_capget, &header, data) != 0) return 0;
    return CapabilitySet{data[0].effective} | (CapabilitySet{data[1].effective} << 32);
}

}  // namespace cwtrace
