#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "app/cli.h"

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
    expect_usage_error({"-f", "pdf"}, "'pdf'");
    expect_usage_error({"-f", "SVG"}, "'SVG'");
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

TEST(Cli, EveryFormatByName) {
    const std::pair<const char*, Format> formats[] = {{"text", Format::Text},
                                                      {"json", Format::Json},
                                                      {"folded", Format::Folded},
                                                      {"svg", Format::Svg},
                                                      {"speedscope", Format::Speedscope},
                                                      {"pprof", Format::Pprof}};
    for (const auto& [name, format] : formats) {
        CliResult r = parse({"-f", name, "-o", "/tmp/cwtrace-cli-test.out"});
        ASSERT_TRUE(r.options) << name << ": " << r.message;
        EXPECT_EQ(r.options->format, format) << name;
    }
}

TEST(Cli, OutputNamePicksTheFormatWhenFormatIsNotGiven) {
    const std::pair<const char*, Format> names[] = {
        {"/tmp/leaks.svg", Format::Svg},
        {"/tmp/leaks.folded", Format::Folded},
        {"/tmp/leaks.json", Format::Json},
        {"/tmp/leaks.speedscope.json", Format::Speedscope},
        {"/tmp/leaks.pb.gz", Format::Pprof},
        {"/tmp/LEAKS.SVG", Format::Svg},
        {"/tmp/leaks.txt", Format::Text},
        {"/tmp/leaks", Format::Text},
        {"/tmp/leaks.gz", Format::Text},
        {"/tmp/.svg", Format::Text},  // a name that is only an extension
    };
    for (const auto& [path, format] : names) {
        EXPECT_EQ(format_for_path(path), format) << path;
        CliResult r = parse({"-o", path});
        ASSERT_TRUE(r.options) << path << ": " << r.message;
        EXPECT_EQ(r.options->format, format) << path;
    }
}

TEST(Cli, FormatFlagWinsOverTheOutputName) {
    CliResult r = parse({"-f", "text", "-o", "/tmp/leaks.svg"});
    ASSERT_TRUE(r.options) << r.message;
    EXPECT_EQ(r.options->format, Format::Text);
}

TEST(Cli, PeriodicReportsStreamAsTextOrJson) {
    CliResult json = parse({"-i", "10s", "-f", "json"});
    ASSERT_TRUE(json.options) << json.message;
    EXPECT_EQ(json.options->periodic_format, Format::Json);

    CliResult json_file = parse({"-i", "10s", "-o", "/tmp/cwtrace-cli-test.json"});
    ASSERT_TRUE(json_file.options) << json_file.message;
    EXPECT_EQ(json_file.options->format, Format::Json);
    EXPECT_EQ(json_file.options->periodic_format, Format::Json);

    CliResult svg = parse({"-i", "10s", "-o", "/tmp/cwtrace-cli-test.svg"});
    ASSERT_TRUE(svg.options) << svg.message;
    EXPECT_EQ(svg.options->format, Format::Svg);
    EXPECT_EQ(svg.options->periodic_format, Format::Text);

    CliResult text = parse({"-i", "10s"});
    ASSERT_TRUE(text.options) << text.message;
    EXPECT_EQ(text.options->periodic_format, Format::Text);
}

TEST(Cli, IntervalWithAPictureFormatNeedsAnOutputFile) {
    for (const char* format : {"svg", "folded", "speedscope", "pprof"})
        expect_usage_error({"-i", "10s", "-f", format}, "-o PATH");
}

// A terminal on stdout for the duration of a scope (a pseudo-terminal's other side).
class StdoutOnTerminal {
  public:
    StdoutOnTerminal() {
        master_ = posix_openpt(O_RDWR | O_NOCTTY);
        if (master_ < 0 || grantpt(master_) != 0 || unlockpt(master_) != 0) return;
        const int tty = open(ptsname(master_), O_RDWR | O_NOCTTY);
        if (tty < 0) return;
        std::fflush(stdout);
        saved_ = dup(STDOUT_FILENO);
        dup2(tty, STDOUT_FILENO);
        close(tty);
    }
    ~StdoutOnTerminal() {
        if (saved_ >= 0) {
            std::fflush(stdout);
            dup2(saved_, STDOUT_FILENO);
            close(saved_);
        }
        if (master_ >= 0) close(master_);
    }
    bool ok() const { return saved_ >= 0; }

  private:
    int master_ = -1, saved_ = -1;
};

TEST(Cli, BinaryProfileIsNotWrittenToATerminal) {
    StdoutOnTerminal terminal;
    ASSERT_TRUE(terminal.ok()) << "no pseudo-terminal";
    CliResult r = parse({"-f", "pprof"});
    CliResult to_file = parse({"-f", "pprof", "-o", "/tmp/cwtrace-cli-test.pb.gz"});
    CliResult text = parse({"-f", "svg"});
    EXPECT_FALSE(r.options);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.message.find("binary"), std::string::npos) << r.message;
    EXPECT_TRUE(to_file.options) << to_file.message;
    EXPECT_TRUE(text.options) << text.message;
}

// ---- cwtrace render REPORT.json ----

class CliRender : public ::testing::Test {
  protected:
    void SetUp() override {
        char dir[] = "/tmp/cwtrace-cli-render-XXXXXX";
        ASSERT_NE(mkdtemp(dir), nullptr);
        dir_ = dir;
        report_ = dir_ + "/report.json";
        std::ofstream(report_) << "{}";
    }
    void TearDown() override {
        std::remove(report_.c_str());
        rmdir(dir_.c_str());
    }
    std::string dir_, report_;
};

TEST_F(CliRender, ReportFormatAndOutput) {
    CliResult r = parse({"render", report_.c_str(), "-f", "svg", "-o", "/tmp/leaks-cli.svg"});
    ASSERT_TRUE(r.options) << r.message;
    EXPECT_EQ(r.options->command, Command::Render);
    EXPECT_EQ(r.options->input, report_);
    EXPECT_EQ(r.options->format, Format::Svg);
    EXPECT_EQ(r.options->output, "/tmp/leaks-cli.svg");
}

TEST_F(CliRender, FormatFromTheOutputNameElseText) {
    CliResult pprof = parse({"render", report_.c_str(), "-o", "/tmp/leaks-cli.pb.gz"});
    ASSERT_TRUE(pprof.options) << pprof.message;
    EXPECT_EQ(pprof.options->format, Format::Pprof);
    CliResult text = parse({"render", report_.c_str()});
    ASSERT_TRUE(text.options) << text.message;
    EXPECT_EQ(text.options->format, Format::Text);
    EXPECT_EQ(text.options->output, "");
}

TEST_F(CliRender, FlagsBeforeTheSubcommandCountToo) {
    CliResult r = parse({"-f", "folded", "render", report_.c_str()});
    ASSERT_TRUE(r.options) << r.message;
    EXPECT_EQ(r.options->command, Command::Render);
    EXPECT_EQ(r.options->format, Format::Folded);
}

TEST_F(CliRender, StdinIsDash) {
    CliResult r = parse({"render", "-", "-f", "json"});
    ASSERT_TRUE(r.options) << r.message;
    EXPECT_EQ(r.options->input, "-");
}

TEST_F(CliRender, TracingIsTheDefaultCommand) {
    CliResult r = parse({"-f", "json"});
    ASSERT_TRUE(r.options) << r.message;
    EXPECT_EQ(r.options->command, Command::Trace);
}

TEST_F(CliRender, UsageErrorsNameTheBadValue) {
    expect_usage_error({"render"}, "REPORT");
    expect_usage_error({"render", "/nonexistent/report.json"}, "'/nonexistent/report.json'");
    expect_usage_error({"render", dir_.c_str()}, "is a directory");
    expect_usage_error({"render", report_.c_str(), "-f", "png"}, "'png'");
    expect_usage_error({"render", report_.c_str(), "-o", "/nonexistent-dir/x.svg"},
                       "/nonexistent-dir");
    expect_usage_error({"--min-age", "5s", "render", report_.c_str()}, "--min-age");
    expect_usage_error({"render", report_.c_str(), "-d", "5s"}, "--duration");
    expect_usage_error({"render", report_.c_str(), "extra.json"}, "extra.json");
}

TEST(Cli, WeightOfFlameFormats) {
    EXPECT_EQ(parse({}).options->weight, FlameWeight::Sockets);
    EXPECT_EQ(parse({"--weight", "seconds"}).options->weight, FlameWeight::Seconds);
    EXPECT_EQ(parse({"render", "-", "--weight", "seconds"}).options->weight, FlameWeight::Seconds);
    expect_usage_error({"--weight", "bytes"}, "'bytes'");
}

// --width, --color, --full-stacks, --mark-own: for tracing and for render alike.
TEST(Cli, PresentationOptions) {
    CliResult r = parse({"--width", "132", "--color", "never", "--full-stacks", "--mark-own"});
    ASSERT_TRUE(r.options) << r.message;
    EXPECT_EQ(r.options->width, std::optional<size_t>(132));
    EXPECT_EQ(r.options->color, ColorMode::Never);
    EXPECT_TRUE(r.options->full_stacks);
    EXPECT_TRUE(r.options->mark_own);
    r = parse({});
    ASSERT_TRUE(r.options);
    EXPECT_FALSE(r.options->width);
    EXPECT_EQ(r.options->color, ColorMode::Auto);
    EXPECT_FALSE(r.options->full_stacks);
    r = parse({"render", "-", "--width", "40", "--color", "always"});
    ASSERT_TRUE(r.options) << r.message;
    EXPECT_EQ(r.options->width, std::optional<size_t>(40));
    EXPECT_EQ(r.options->color, ColorMode::Always);
    for (const char* bad : {"39", "1001", "80x", "-80", "0x50"})
        expect_usage_error({"--width", bad}, std::string("--width: invalid width '") + bad + "'");
    expect_usage_error({"--color", "yes"}, "--color: unknown mode 'yes' (auto, always or never)");
}

// The socket filters: values into Options, bad ones one line and exit 2.
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
