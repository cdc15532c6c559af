#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "report/socket_filter.h"

using namespace cwtrace;

namespace {

SocketFilter filter(FilterArgs args) {
    auto f = make_socket_filter(args);
    EXPECT_TRUE(f) << (f ? "" : f.error().message);
    return f ? *f : SocketFilter{};
}

std::string error_of(FilterArgs args) {
    auto f = make_socket_filter(args);
    return f ? "(accepted)" : f.error().message;
}

cw_flow flow(const std::string& local, uint16_t sport, const std::string& remote, uint16_t dport) {
    cw_flow f = {};
    const bool inet6 = remote.find(':') != std::string::npos;
    f.family = inet6 ? AF_INET6 : AF_INET;
    EXPECT_EQ(inet_pton(f.family, local.c_str(), f.saddr), 1);
    EXPECT_EQ(inet_pton(f.family, remote.c_str(), f.daddr), 1);
    f.sport = sport;
    f.dport = dport;
    return f;
}

OwnerDetails in_cgroup(const std::string& cgroup, std::optional<std::string> container = {}) {
    OwnerDetails d;
    d.cgroup = cgroup;
    d.container_id = std::move(container);
    return d;
}

cw_origin thread(uint32_t pid, const char* comm) {
    cw_origin t = {};
    t.pid = pid;
    std::strncpy(t.comm, comm, sizeof(t.comm) - 1);
    return t;
}

const std::string kId = "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899";

}  // namespace

TEST(SocketFilter, NoFilterSelectsEverything) {
    const SocketFilter none = filter({});
    EXPECT_FALSE(none.by_flow());
    EXPECT_FALSE(none.by_owner());
    EXPECT_TRUE(none.flow_selected(flow("127.0.0.1", 40000, "127.0.0.1", 80)));
    EXPECT_TRUE(none.owner_selected("", nullptr));
}

TEST(SocketFilter, PortMatchesEitherEnd) {
    const SocketFilter f = filter({.ports = {"5432"}});
    EXPECT_TRUE(f.flow_selected(flow("10.0.0.1", 5432, "10.0.0.2", 41000)));  // server's end
    EXPECT_TRUE(f.flow_selected(flow("10.0.0.1", 41000, "10.0.0.2", 5432)));  // client's end
    EXPECT_FALSE(f.flow_selected(flow("10.0.0.1", 41000, "10.0.0.2", 5433)));
}

TEST(SocketFilter, LocalAndRemotePortsEachTheirEnd) {
    const SocketFilter local = filter({.local_ports = {"8080"}});
    EXPECT_TRUE(local.flow_selected(flow("::1", 8080, "::1", 50000)));
    EXPECT_FALSE(local.flow_selected(flow("::1", 50000, "::1", 8080)));
    const SocketFilter remote = filter({.remote_ports = {"8080", "9090"}});
    EXPECT_TRUE(remote.flow_selected(flow("::1", 50000, "::1", 8080)));
    EXPECT_TRUE(remote.flow_selected(flow("::1", 50000, "::1", 9090)));  // values: alternatives
    EXPECT_FALSE(remote.flow_selected(flow("::1", 8080, "::1", 50000)));
}

TEST(SocketFilter, RemoteRangesIpv4AndIpv6) {
    const SocketFilter f = filter({.remotes = {"127.0.0.2", "fd00::/8"}});
    EXPECT_TRUE(f.flow_selected(flow("127.0.0.1", 1000, "127.0.0.2", 80)));
    EXPECT_FALSE(f.flow_selected(flow("127.0.0.2", 1000, "127.0.0.1", 80)));  // local, not remote
    EXPECT_TRUE(f.flow_selected(flow("::1", 1000, "fd12::5", 80)));
    EXPECT_FALSE(f.flow_selected(flow("::1", 1000, "::1", 80)));
    EXPECT_TRUE(f.flow_selected(flow("::ffff:127.0.0.1", 1000, "::ffff:127.0.0.2", 80)));
}

// Every filter given must match.
TEST(SocketFilter, FiltersCombine) {
    const SocketFilter f = filter({.local_ports = {"8080"}, .remotes = {"127.0.0.0/8"}});
    EXPECT_TRUE(f.flow_selected(flow("127.0.0.1", 8080, "127.0.0.9", 50000)));
    EXPECT_FALSE(f.flow_selected(flow("127.0.0.1", 8081, "127.0.0.9", 50000)));
    EXPECT_FALSE(f.flow_selected(flow("10.0.0.1", 8080, "10.0.0.9", 50000)));
}

TEST(SocketFilter, CommIsExact) {
    const SocketFilter f = filter({.comms = {"leaky_client", "nginx"}});
    EXPECT_TRUE(f.by_owner());
    EXPECT_FALSE(f.by_process_details());
    EXPECT_TRUE(f.owner_selected("nginx", nullptr));
    EXPECT_TRUE(f.owner_selected("leaky_client", nullptr));
    EXPECT_FALSE(f.owner_selected("nginx2", nullptr));
    EXPECT_FALSE(f.owner_selected("leaky", nullptr));
    EXPECT_FALSE(f.owner_selected("", nullptr));
}

TEST(SocketFilter, ContainerByIdPrefix) {
    const SocketFilter f = filter({.containers = {"3F4E5D"}});  // as typed, in capitals
    const OwnerDetails in = in_cgroup("/system.slice/docker-" + kId + ".scope", kId);
    const OwnerDetails other = in_cgroup("/system.slice/docker-aa.scope", "aa" + kId.substr(2));
    EXPECT_TRUE(f.owner_selected("any", &in));
    EXPECT_FALSE(f.owner_selected("any", &other));
    const OwnerDetails host = in_cgroup("/user.slice");
    EXPECT_FALSE(f.owner_selected("any", &host));
    EXPECT_FALSE(f.owner_selected("any", nullptr));  // unknown: not selected
    EXPECT_TRUE(filter({.containers = {kId}}).owner_selected("any", &in));
}

TEST(SocketFilter, CgroupAtOrBelow) {
    const SocketFilter f = filter({.cgroups = {"/system.slice/app.service/"}});
    const OwnerDetails at = in_cgroup("/system.slice/app.service");
    const OwnerDetails below = in_cgroup("/system.slice/app.service/worker");
    const OwnerDetails sibling = in_cgroup("/system.slice/app.service2");
    const OwnerDetails above = in_cgroup("/system.slice");
    EXPECT_TRUE(f.owner_selected("x", &at));
    EXPECT_TRUE(f.owner_selected("x", &below));
    EXPECT_FALSE(f.owner_selected("x", &sibling));
    EXPECT_FALSE(f.owner_selected("x", &above));
    EXPECT_TRUE(filter({.cgroups = {"/"}}).owner_selected("x", &above));
    // The cgroup2 mount point's path names the same cgroup.
    EXPECT_EQ(filter({.cgroups = {"/sys/fs/cgroup/system.slice"}}).cgroups,
              std::vector<std::string>{"/system.slice"});
    EXPECT_EQ(filter({.cgroups = {"/sys/fs/cgroup"}}).cgroups, std::vector<std::string>{"/"});
}

TEST(SocketFilter, CommAndCgroupBothMustMatch) {
    const SocketFilter f = filter({.comms = {"web"}, .cgroups = {"/a"}});
    const OwnerDetails a = in_cgroup("/a/b");
    const OwnerDetails c = in_cgroup("/c");
    EXPECT_TRUE(f.owner_selected("web", &a));
    EXPECT_FALSE(f.owner_selected("db", &a));
    EXPECT_FALSE(f.owner_selected("web", &c));
}

TEST(SocketFilter, BadValuesNamed) {
    EXPECT_EQ(error_of({.ports = {"0"}}), "--port: invalid value '0' (a port, 1 to 65535)");
    EXPECT_EQ(error_of({.local_ports = {"65536"}}),
              "--lport: invalid value '65536' (a port, 1 to 65535)");
    for (const char* bad : {"", "-1", "80x", " 80", "http", "1e3"})
        EXPECT_NE(error_of({.remote_ports = {bad}})
                      .find("--rport: invalid value '" + std::string(bad) + "'"),
                  std::string::npos)
            << bad;
    EXPECT_NE(error_of({.remotes = {"10.0.0.0/33"}}).find("--remote: invalid value '10.0.0.0/33'"),
              std::string::npos);
    EXPECT_NE(error_of({.remotes = {"db.example"}}).find("'db.example'"), std::string::npos);
    EXPECT_NE(error_of({.comms = {""}}).find("--comm: invalid value ''"), std::string::npos);
    EXPECT_NE(error_of({.comms = {"sixteen_bytes_xx"}}).find("'sixteen_bytes_xx'"),
              std::string::npos);
    EXPECT_EQ(filter({.comms = {"fifteen_bytes_x"}}).comms,
              std::vector<std::string>{"fifteen_bytes_x"});
    EXPECT_NE(error_of({.containers = {"3f4g"}}).find("--container: invalid value '3f4g'"),
              std::string::npos);
    EXPECT_NE(error_of({.containers = {""}}).find("--container"), std::string::npos);
    EXPECT_NE(error_of({.containers = {kId + "0"}}).find("--container"), std::string::npos);
    for (const char* bad : {"system.slice", "", "/a/../b", "/a//b", "/./a", "/a\nb"})
        EXPECT_NE(error_of({.cgroups = {bad}}).find("--cgroup: invalid value"), std::string::npos)
            << bad;
    EXPECT_EQ(error_of({.ports = {"1", "2", "3", "4", "5", "6", "7", "8", "9"}}),
              "--port: at most 8 values");
}

// Late closes: the flow, and the opener's or the closer's process.
TEST(SocketFilter, ClosesByOpenerOrCloser) {
    CloseSelector by_comm(filter({.remote_ports = {"80"}, .comms = {"client"}}));
    const cw_origin client = thread(100, "client"), other = thread(200, "other");
    const cw_flow to_80 = flow("127.0.0.1", 40000, "127.0.0.1", 80);
    const cw_flow to_81 = flow("127.0.0.1", 40000, "127.0.0.1", 81);
    EXPECT_TRUE(by_comm.selected(to_80, &client, nullptr));
    EXPECT_TRUE(by_comm.selected(to_80, &other, &client));
    EXPECT_TRUE(by_comm.selected(to_80, nullptr, &client));
    EXPECT_FALSE(by_comm.selected(to_80, &other, &other));
    EXPECT_FALSE(by_comm.selected(to_80, nullptr, nullptr));
    EXPECT_FALSE(by_comm.selected(to_81, &client, nullptr));
    // --cgroup reads the process's cgroup: this test's own.
    CloseSelector by_root(filter({.cgroups = {"/"}}));
    const cw_origin self = thread(static_cast<uint32_t>(getpid()), "self");
    EXPECT_TRUE(by_root.selected(to_81, &self, nullptr));
    EXPECT_FALSE(by_root.selected(to_81, nullptr, nullptr));
}
