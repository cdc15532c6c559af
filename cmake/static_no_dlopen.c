// The static build's dlopen() (cmake/static.cmake links it with -Wl,--wrap=dlopen): it loads
// nothing, as if no library were installed. A static process that dlopen()ed a shared library
// would map the host's libc beside its own; the one caller, libdwfl's debuginfod client, then
// goes without (cwtrace reads local debug files only).
#include <stddef.h>

void* __wrap_dlopen(const char* file, int mode);

void* __wrap_dlopen(const char* file, int mode) {
    (void)file;
    (void)mode;
    return NULL;
}
