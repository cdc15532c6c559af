// The socket filters on the command line: values into Options, bad ones one line and exit 2.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "app/cli.h"

using namespace cwtrace;

namespace {

CliResult parse(std::vector<const char*> args) {
    args.insert(args.begin(), "cwtrace");
    return parse_cli(static_cast<int>(args.size()), args.data());
}

void expect_usage_error(std::vector<const char*> args, const std::string& names) {
    CliResult r = parse(args);
    EXPECT_FALSE(r.options.has_value());
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.message.find(names), std::string::npos) << r.message;
    EXPECT_EQ(r.message.find('\n'), r.message.size() - 1) << r.message;  // one line
}

}  // namespace

TEST(CliFilters, ValuesReachOptions) {
    CliResult r = parse({"--port", "443", "--lport", "8080", "--rport", "5432", "--rport", "5433",
                         "--remote", "10.0.0.0/8", "--remote", "::1", "--comm", "nginx",
                         "--container", "ABC123", "--cgroup", "/system.slice/"});
    ASSERT_TRUE(r.options) << r.message;
    const SocketFilter& f = r.options->filter;
    EXPECT_EQ(f.ports, std::vector<uint16_t>{443});
    EXPECT_EQ(f.local_ports, std::vector<uint16_t>{8080});
    EXPECT_EQ(f.remote_ports, (std::vector<uint16_t>{5432, 5433}));
    ASSERT_EQ(f.remotes.size(), 2u);
    EXPECT_EQ(f.remotes[0].prefix, 8);
    EXPECT_TRUE(f.remotes[1].inet6);
    EXPECT_EQ(f.remotes[1].prefix, 128);
    EXPECT_EQ(f.comms, std::vector<std::string>{"nginx"});
    EXPECT_EQ(f.containers, std::vector<std::string>{"abc123"});
    EXPECT_EQ(f.cgroups, std::vector<std::string>{"/system.slice"});
}

TEST(CliFilters, NoneByDefault) {
    CliResult r = parse({});
    ASSERT_TRUE(r.options);
    EXPECT_FALSE(r.options->filter.by_flow());
    EXPECT_FALSE(r.options->filter.by_owner());
}

TEST(CliFilters, BadValuesExitTwoNamingThem) {
    expect_usage_error({"--port", "0"}, "--port: invalid value '0'");
    expect_usage_error({"--lport", "65536"}, "--lport: invalid value '65536'");
    expect_usage_error({"--rport", "postgres"}, "--rport: invalid value 'postgres'");
    expect_usage_error({"--remote", "10.0.0.0/33"}, "--remote: invalid value '10.0.0.0/33'");
    expect_usage_error({"--remote", "fd00::/129"}, "--remote: invalid value 'fd00::/129'");
    expect_usage_error({"--comm", ""}, "--comm: invalid value ''");
    expect_usage_error({"--container", "xyz"}, "--container: invalid value 'xyz'");
    expect_usage_error({"--cgroup", "system.slice"}, "--cgroup: invalid value 'system.slice'");
    expect_usage_error({"--port", "1", "--port", "2", "--port", "3", "--port", "4", "--port", "5",
                        "--port", "6", "--port", "7", "--port", "8", "--port", "9"},
                       "--port: at most 8 values");
}

TEST(CliFilters, RenderRefusesThem) {
    expect_usage_error({"render", "/dev/null", "--port", "80"},
                       "render: --port applies to tracing");
}
