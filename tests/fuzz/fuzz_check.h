// What the libFuzzer targets share: an invariant that, broken, crashes with its name.
#pragma once

#include <cstdio>
#include <cstdlib>

// An invariant broken: named on stderr, then a crash libFuzzer reports with its input.
#define check(ok)                                                                 \
    do {                                                                          \
        if (!(ok)) {                                                              \
            std::fprintf(stderr, "%s:%d: broken: %s\n", __FILE__, __LINE__, #ok); \
            std::abort();                                                         \
        }                                                                         \
    } while (0)
