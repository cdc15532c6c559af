// Load failures said as what is wrong: a verifier refusal names the program and the kernel (and
// is no privilege matter), EPERM/EACCES before any program load is one, a map refused names it.
#include <gtest/gtest.h>

#include <cerrno>

#include "kernel/load_error.h"

namespace cwtrace {
namespace {

constexpr const char* kRelease = "6.1.0-57-amd64";

LoadLog log_of(std::initializer_list<const char*> lines) {
    LoadLog log;
    for (const char* line : lines) note_libbpf_warning(line, log);
    return log;
}

// What libbpf 1.1 printed on Debian 6.1 for the memo compare refused (shortened).
TEST(LoadError, VerifierRefusalNamesProgramAndKernelNotPrivileges) {
    const LoadLog log = log_of({
        "libbpf: prog 'on_inet_sock_set_state_probed': BPF program load failed: Permission denied",
        "libbpf: prog 'on_inet_sock_set_state_probed': -- BEGIN PROG LOAD LOG --",
        "invalid access to map value, value_size=16384 off=0 size=65535",
        "-- END PROG LOAD LOG --",
        "libbpf: prog 'on_inet_sock_set_state_probed': failed to load: -13",
    });
    const Error e = classify_load_failure("load", -EACCES, log, kRelease);
    EXPECT_EQ(e.message,
              "the kernel's verifier refused program on_inet_sock_set_state_probed (Linux "
              "6.1.0-57-amd64)");
    EXPECT_EQ(e.hint, "run with -v for its log");
    EXPECT_TRUE(is_verifier_refusal(e));
}

// Linux 5.10 and an object naming a bpf_loop callback: EINVAL, the program named.
TEST(LoadError, FuncInfoMismatchIsARefusalToo) {
    const LoadLog log = log_of({
        "libbpf: prog 'on_accept_exit': BPF program load failed: Invalid argument",
        "libbpf: prog 'on_accept_exit': -- BEGIN PROG LOAD LOG --",
        "number of funcs in func_info doesn't match number of subprogs",
    });
    const Error e = classify_load_failure("load", -EINVAL, log, "5.10.0-32-cloud-amd64");
    EXPECT_EQ(e.message,
              "the kernel's verifier refused program on_accept_exit (Linux 5.10.0-32-cloud-amd64)");
}

TEST(LoadError, PermissionBeforeAnyVerificationIsThePrivilegeMessage) {
    // A program refused without a verifier log: the bpf() call itself was refused.
    LoadLog log =
        log_of({"libbpf: prog 'on_accept_exit': BPF program load failed: Operation "
                "not permitted"});
    Error e = classify_load_failure("load", -EPERM, log, kRelease);
    EXPECT_EQ(e.message, "BPF load failed: Operation not permitted");
    EXPECT_EQ(e.hint, "run as root, or grant CAP_BPF and CAP_PERFMON");
    EXPECT_FALSE(is_verifier_refusal(e));
    // A feature probe (no libbpf log at all).
    e = classify_load_failure("map creation", EPERM, {}, kRelease);
    EXPECT_EQ(e.message, "BPF map creation failed: Operation not permitted");
    EXPECT_EQ(e.hint, "run as root, or grant CAP_BPF and CAP_PERFMON");
}

TEST(LoadError, MapRefusedIsNamedWithPrivilegeOrMemoryHint) {
    const LoadLog log = log_of({"libbpf: map 'events': failed to create: Cannot allocate memory"});
    Error e = classify_load_failure("load", -ENOMEM, log, kRelease);
    EXPECT_EQ(e.message, "the kernel refused to create BPF map 'events': Cannot allocate memory");
    EXPECT_NE(e.hint.find("memory limit"), std::string::npos);
    e = classify_load_failure("load", -EPERM, log, kRelease);
    EXPECT_EQ(e.message, "the kernel refused to create BPF map 'events': Operation not permitted");
    EXPECT_EQ(e.hint, "run as root, or grant CAP_BPF and CAP_PERFMON");
}

// Only the opener map refused its memory is worth a smaller opener map: another map refused (a
// ring buffer set too large) is refused again whatever its size, and so is a privilege refusal.
TEST(LoadError, OnlyTheOpenerMapRefusedMemoryIsRetriedSmaller) {
    LoadLog log = log_of({"libbpf: map 'origins': failed to create: Cannot allocate memory(-12)"});
    log.error = -ENOMEM;
    EXPECT_TRUE(opener_map_refused_memory(log));
    log.error = ENOMEM;
    EXPECT_TRUE(opener_map_refused_memory(log));
    log.error = -EPERM;
    EXPECT_FALSE(opener_map_refused_memory(log));
    LoadLog table =
        log_of({"libbpf: map 'opener_table': failed to create: Cannot allocate memory(-12)"});
    table.error = -ENOMEM;
    EXPECT_TRUE(opener_map_refused_memory(table));
    LoadLog events =
        log_of({"libbpf: map 'events': failed to create: Cannot allocate memory(-12)"});
    events.error = -ENOMEM;
    EXPECT_FALSE(opener_map_refused_memory(events));
    LoadLog verifier = log_of({"libbpf: prog 'on_accept_exit': BPF program load failed: x"});
    verifier.error = -ENOMEM;
    EXPECT_FALSE(opener_map_refused_memory(verifier));
}

TEST(LoadError, OtherFailuresPointAtTheLog) {
    const Error e = classify_load_failure("attach", -ENOENT, {}, kRelease);
    EXPECT_EQ(e.message, "BPF attach failed: No such file or directory");
    EXPECT_EQ(e.hint, "run with -v to see libbpf's log");
}

}  // namespace
}  // namespace cwtrace
