#include <gtest/gtest.h>
#include <unistd.h>

#include <vector>

#include "cwtrace/cli.h"

using namespace cwtrace;
using namespace std::chrono_literals;

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
    // Exactly one line.
    EXPECT_EQ(r.message.find('\n'), r.message.size() - 1) << r.message;
}

}  // namespace

TEST(Cli, Defaults) {
    CliResult r = parse({});
    ASSERT_TRUE(r.options);
    EXPECT_EQ(r.options->min_age, Nanos(30s));
    EXPECT_FALSE(r.options->duration);
    EXPECT_FALSE(r.options->interval);
    EXPECT_EQ(r.options->format, Format::Text);
    EXPECT_TRUE(r.options->pids.empty());
}

TEST(Cli, AllFlags) {
    const std::string self = std::to_string(getpid());
    CliResult r = parse({"--min-age", "1m30s", "-p", self.c_str(), "--pid", "1", "-d", "5s", "-i",
                         "500ms", "-f", "json", "-o", "/tmp/cwtrace-cli-test.json"});
    ASSERT_TRUE(r.options) << r.message;
    EXPECT_EQ(r.options->min_age, Nanos(90s));
    EXPECT_EQ(r.options->pids, (std::vector<pid_t>{getpid(), 1}));
    EXPECT_EQ(r.options->duration, Nanos(5s));
    EXPECT_EQ(r.options->interval, Nanos(500ms));
    EXPECT_EQ(r.options->format, Format::Json);
    EXPECT_EQ(r.options->output, "/tmp/cwtrace-cli-test.json");
}

TEST(Cli, BadDurationsNameTheValue) {
    for (const char* bad : {"abc", "-5s", "10x", "1e999", ""})
        expect_usage_error({"--min-age", bad}, std::string("'") + bad + "'");
    expect_usage_error({"-d", "0"}, "--duration");
    expect_usage_error({"-i", "zz"}, "'zz'");
}

TEST(Cli, BadPids) {
    expect_usage_error({"--pid", "0"}, "'0'");
    expect_usage_error({"--pid", "-3"}, "-3");
    expect_usage_error({"--pid", "abc"}, "'abc'");
    expect_usage_error({"--pid", "4194303"}, "4194303");  // above any live pid here
}

TEST(Cli, BadFormatAndOutput) {
    expect_usage_error({"-f", "xml"}, "'xml'");
    expect_usage_error({"-f", "svg"}, "'svg'");
    expect_usage_error({"-o", "/nonexistent-dir/x.json"}, "/nonexistent-dir");
    expect_usage_error({"-o", "/tmp"}, "'/tmp'");
}

TEST(Cli, UnknownFlagAndMissingValue) {
    expect_usage_error({"--frobnicate"}, "--frobnicate");
    expect_usage_error({"--min-age"}, "--min-age");
}

TEST(Cli, HelpAndVersionExitZero) {
    CliResult help = parse({"--help"});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.message.find("--min-age"), std::string::npos);
    CliResult version = parse({"--version"});
    EXPECT_EQ(version.exit_code, 0);
    EXPECT_NE(version.message.find("cwtrace"), std::string::npos);
}
