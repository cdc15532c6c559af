// From a capability set to what cwtrace refuses or loses: the table of README "Permissions".
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "app/capabilities.h"

namespace cwtrace {
namespace {

CapabilitySet set_of(std::initializer_list<int> caps) {
    CapabilitySet set = 0;
    for (int cap : caps) set |= CapabilitySet{1} << cap;
    return set;
}

// What README "Permissions" tells a user other than root to grant.
const CapabilitySet kDocumentedNonRoot = set_of(
    {kCapBpf, kCapPerfmon, kCapDacReadSearch, kCapSysPtrace, kCapSyslog, kCapCheckpointRestore});

std::vector<std::string> names(const std::vector<CapabilityLoss>& losses) {
    std::vector<std::string> out;
    for (const auto& loss : losses) out.push_back(loss.capability);
    return out;
}

PrivilegeScene non_root(size_t other_namespaces = 0, bool kernel_addresses = false) {
    PrivilegeScene scene;
    scene.root_uid = false;
    scene.other_network_namespaces = other_namespaces;
    scene.kernel_addresses_visible = kernel_addresses;
    return scene;
}

TEST(CapabilityLosses, EveryCapabilityLosesNothing) {
    EXPECT_TRUE(capability_losses(~CapabilitySet{0}, non_root(3)).empty());
}

TEST(CapabilityLosses, TheDocumentedSetLosesOnlyOtherNetworkNamespacesCounted) {
    const auto losses = capability_losses(kDocumentedNonRoot, non_root(3));
    ASSERT_EQ(losses.size(), 1u);
    EXPECT_EQ(losses[0].capability, "CAP_SYS_ADMIN");
    EXPECT_EQ(losses[0].cost,
              "3 network namespaces not searched: their sockets already in CLOSE_WAIT at start "
              "are not shown (those traced later are, without their queues)");
    EXPECT_EQ(capability_losses(kDocumentedNonRoot, non_root(1))[0].cost.substr(0, 30),
              "1 network namespace not search");
    EXPECT_EQ(capability_losses(kDocumentedNonRoot, non_root(0))[0].cost.substr(0, 44),
              "containers' network namespaces not searched:");
}

// The case: root with the tracing capabilities only, kallsyms hiding addresses.
TEST(CapabilityLosses, RootWithTracingCapabilitiesOnlyIsToldEachLossInTableOrder) {
    PrivilegeScene scene = non_root(2);
    scene.root_uid = true;  // owns root's /proc/PID/fd: no DAC capability missing
    EXPECT_EQ(names(capability_losses(set_of({kCapBpf, kCapPerfmon}), scene)),
              (std::vector<std::string>{"CAP_SYS_PTRACE", "CAP_SYS_ADMIN", "CAP_CHECKPOINT_RESTORE",
                                        "CAP_SYSLOG"}));
}

TEST(CapabilityLosses, ReadingOtherUsersDescriptorTablesTakesADacCapabilityUnlessRoot) {
    const CapabilitySet without_dac = kDocumentedNonRoot & ~set_of({kCapDacReadSearch});
    EXPECT_EQ(names(capability_losses(without_dac, non_root())),
              (std::vector<std::string>{"CAP_DAC_READ_SEARCH", "CAP_SYS_ADMIN"}));
    EXPECT_EQ(names(capability_losses(without_dac | set_of({kCapDacOverride}), non_root())),
              (std::vector<std::string>{"CAP_SYS_ADMIN"}));
    PrivilegeScene root = non_root();
    root.root_uid = true;
    EXPECT_EQ(names(capability_losses(without_dac, root)),
              (std::vector<std::string>{"CAP_SYS_ADMIN"}));
}

TEST(CapabilityLosses, SysAdminCoversNamespacesAndMapFiles) {
    const CapabilitySet set =
        (kDocumentedNonRoot & ~set_of({kCapCheckpointRestore})) | set_of({kCapSysAdmin});
    EXPECT_TRUE(capability_losses(set, non_root(5)).empty());
}

TEST(CapabilityLosses, SyslogIsNotMissedWhereKallsymsShowsAddressesAnyway) {
    const CapabilitySet without_syslog = kDocumentedNonRoot & ~set_of({kCapSyslog});
    EXPECT_EQ(names(capability_losses(without_syslog, non_root(0, /*kernel_addresses=*/true))),
              (std::vector<std::string>{"CAP_SYS_ADMIN"}));
    EXPECT_EQ(names(capability_losses(without_syslog, non_root(0, /*kernel_addresses=*/false))),
              (std::vector<std::string>{"CAP_SYS_ADMIN", "CAP_SYSLOG"}));
}

TEST(NamespaceLosses, NothingOnTheHost) { EXPECT_TRUE(namespace_losses(PrivilegeScene{}).empty()); }

TEST(NamespaceLosses, OwnPidNamespaceSaysWhatTheReportLacks) {
    PrivilegeScene scene;
    scene.host_pid_namespace = false;
    const auto losses = namespace_losses(scene);
    ASSERT_EQ(losses.size(), 1u);
    EXPECT_NE(losses[0].find("pid namespace other than the host's"), std::string::npos);
    EXPECT_NE(losses[0].find("held by no process"), std::string::npos);
    EXPECT_NE(losses[0].find("hostPID"), std::string::npos);
}

TEST(NamespaceLosses, OwnUserNamespaceSaysNetworkNamespacesAreNotEntered) {
    PrivilegeScene scene;
    scene.host_user_namespace = false;
    const auto losses = namespace_losses(scene);
    ASSERT_EQ(losses.size(), 1u);
    EXPECT_NE(losses[0].find("cannot be entered"), std::string::npos);
}

TEST(TracingCapabilities, BothOrSysAdmin) {
    EXPECT_TRUE(check_tracing_capabilities(set_of({kCapBpf, kCapPerfmon})));
    EXPECT_TRUE(check_tracing_capabilities(set_of({kCapSysAdmin})));
    const auto none = check_tracing_capabilities(0);
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().message,
              "no CAP_BPF and CAP_PERFMON: tracing needs CAP_BPF and "
              "CAP_PERFMON");
    EXPECT_NE(none.error().hint.find("Permissions"), std::string::npos);
    const auto bpf_only = check_tracing_capabilities(set_of({kCapBpf, kCapSysPtrace}));
    ASSERT_FALSE(bpf_only);
    EXPECT_EQ(bpf_only.error().message, "no CAP_PERFMON: tracing needs CAP_BPF and CAP_PERFMON");
}

TEST(MetricsPort, BelowTheUnprivilegedPortsTakesNetBindService) {
    PrivilegeScene scene = non_root();
    EXPECT_TRUE(check_metrics_port(0, scene));  // no --metrics-addr
    scene.metrics_port = 9464;
    EXPECT_TRUE(check_metrics_port(0, scene));
    scene.metrics_port = 466;
    const auto refused = check_metrics_port(kDocumentedNonRoot, scene);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().message,
              "--metrics-addr port 466: binding a port below 1024 needs CAP_NET_BIND_SERVICE");
    EXPECT_TRUE(check_metrics_port(set_of({kCapNetBindService}), scene));
    scene.unprivileged_port_start = 80;  // net.ipv4.ip_unprivileged_port_start lowered
    EXPECT_TRUE(check_metrics_port(0, scene));
}

// capget(2) and /proc/self/status agree on this process's effective set.
TEST(EffectiveCapabilities, AreTheKernelsCapEff) {
    std::ifstream status("/proc/self/status");
    std::string line;
    CapabilitySet from_status = 0;
    bool seen = false;
    while (std::getline(status, line))
        if (line.rfind("CapEff:", 0) == 0) {
            from_status = std::stoull(line.substr(7), nullptr, 16);
            seen = true;
        }
    ASSERT_TRUE(seen);
    EXPECT_EQ(effective_capabilities(), from_status);
}

}  // namespace
}  // namespace cwtrace
