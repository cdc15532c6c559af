// Why loading the BPF programs failed, said as what is wrong: a map the kernel would not create,
// a program its verifier refused (named, with the kernel: its log is in -v), missing privileges.
// libbpf's log is read as it is printed to tell these apart.
#pragma once

#include <string>

#include "util/result.h"

namespace cwtrace {

// What libbpf's log said of a failed load (see note_libbpf_warning()).
struct LoadLog {
    std::string failed_map;      // "map 'events': failed to create: ..."
    std::string failed_program;  // "prog 'on_accept_exit': BPF program load failed: ..."
    bool verifier_log = false;   // the kernel's verifier said why ("-- BEGIN PROG LOAD LOG --")
    int error = 0;               // the errno the failed step returned (either sign)
};

// Notes in `log` what a line of libbpf's warnings says.
void note_libbpf_warning(const std::string& line, LoadLog& log);

// The error for step `step` ("open", "load", "attach", ...) failing with errno `err` (either
// sign), given what libbpf logged and the kernel's release.
Error classify_load_failure(const std::string& step, int err, const LoadLog& log,
                            const std::string& release);

// Whether the load failed because the kernel refused the opener map ('origins', or the table that
// replaces it: 'opener_table') its memory
// (ENOMEM: a memory cgroup's limit, or no memory to be had), so that a smaller one may load.
bool opener_map_refused_memory(const LoadLog& log);

// Whether `error` says a verifier refused a program (the Direct -> Probed fallback tries then).
bool is_verifier_refusal(const Error& error);

}  // namespace cwtrace
