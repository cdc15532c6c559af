// What --help teaches (issue 23): every line within 100 columns, a placeholder saying what each
// value is (never CLI11's TEXT), examples that parse, the environment cwtrace reads, and a
// `render --help` listing the options render takes.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "app/cli.h"
#include "app/config.h"

namespace cwtrace {
namespace {

std::string help(std::vector<const char*> args) {
    args.insert(args.begin(), "cwtrace");
    const CliResult r = parse_cli(static_cast<int>(args.size()), args.data());
    EXPECT_EQ(r.exit_code, 0) << r.message;
    EXPECT_FALSE(r.options);
    return r.message;
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

// The lines of section `title` ("EXAMPLES:") up to the next blank line.
std::vector<std::string> section(const std::string& text, const std::string& title) {
    std::vector<std::string> out;
    bool in = false;
    for (const std::string& line : lines(text)) {
        if (line == title) {
            in = true;
        } else if (in && line.empty()) {
            break;
        } else if (in) {
            out.push_back(line);
        }
    }
    return out;
}

size_t columns(const std::string& line) {  // UTF-8: continuation bytes take no column
    size_t n = 0;
    for (unsigned char c : line) n += (c & 0xC0) != 0x80;
    return n;
}

// "  -p,--pid PID ...   only sockets..." -> the spellings and the placeholder ("" for a flag).
struct OptionLine {
    std::string names, placeholder;
};
std::vector<OptionLine> option_lines(const std::string& text) {
    std::vector<OptionLine> out;
    static const std::regex option(R"(^  ((?:-\w,)?--?[\w-]+)(?: (\S+)(?: \.\.\.)?)?(?:\s{2,}|$))");
    for (const std::string& line : section(text, "Options:")) {
        std::smatch m;
        if (std::regex_search(line, m, option)) out.push_back({m[1], m[2]});
    }
    return out;
}

TEST(CliHelp, EveryLineFitsOneHundredColumns) {
    for (const std::string& text : {help({"--help"}), help({"render", "--help"})})
        for (const std::string& line : lines(text))
            EXPECT_LE(columns(line), 100u) << "'" << line << "'";
}

TEST(CliHelp, EveryValueHasAPlaceholderSayingWhatItIs) {
    const std::set<std::string> known = {"DURATION", "PID",  "PORT",   "CIDR", "NAME",
                                         "ID",       "PATH", "FORMAT", "N",    "HOST:PORT",
                                         "REGEX",    "MODE", "WEIGHT", "WHEN"};
    for (const std::string& text : {help({"--help"}), help({"render", "--help"})}) {
        const auto options = option_lines(text);
        EXPECT_GE(options.size(), 4u) << text;
        for (const OptionLine& o : options) {
            if (!o.placeholder.empty()) {
                EXPECT_TRUE(known.count(o.placeholder)) << o.names << " " << o.placeholder;
            }
        }
        EXPECT_EQ(text.find("TEXT"), std::string::npos) << text;
        EXPECT_EQ(text.find(" INT"), std::string::npos) << text;
    }
    // The ones that take a value say so: a flag has no placeholder, an option has one.
    for (const OptionLine& o : option_lines(help({"--help"}))) {
        const bool flag = o.names == "-h,--help" || o.names == "--version" ||
                          o.names == "-v,--verbose" || o.names == "-q,--quiet" ||
                          o.names == "--full-stacks" || o.names == "--mark-own";
        EXPECT_EQ(o.placeholder.empty(), flag) << o.names;
    }
}

TEST(CliHelp, RenderHelpListsWhatRenderTakes) {
    const std::string text = help({"render", "--help"});
    std::set<std::string> names;
    for (const OptionLine& o : option_lines(text)) names.insert(o.names);
    for (const char* name : {"-f,--format", "-o,--output", "--weight", "-v,--verbose"})
        EXPECT_TRUE(names.count(name)) << name << " missing from\n" << text;
    EXPECT_FALSE(names.count("--min-age")) << text;
    EXPECT_NE(text.find("REPORT"), std::string::npos);
    EXPECT_FALSE(section(text, "EXAMPLES:").empty()) << text;
}

// The examples are commands cwtrace accepts: each parses, or fails only on a value this host
// lacks (pid 4321), never on an option or an arity.
TEST(CliHelp, ExamplesParse) {
    for (const std::string& text : {help({"--help"}), help({"render", "--help"})}) {
        const auto examples = section(text, "EXAMPLES:");
        EXPECT_GE(examples.size(), 4u) << text;
        for (const std::string& line : examples) {
            std::string command = line.substr(0, line.find(" #"));
            const size_t at = command.find("cwtrace ");
            ASSERT_NE(at, std::string::npos) << line;
            std::istringstream words(command.substr(at + 8));
            std::vector<std::string> args;
            for (std::string w; words >> w && w != ">" && w != "|";) args.push_back(w);
            std::vector<const char*> argv = {"cwtrace"};
            for (const std::string& a : args) argv.push_back(a.c_str());
            const CliResult r = parse_cli(static_cast<int>(argv.size()), argv.data());
            EXPECT_EQ(r.message.find("see --help"), std::string::npos) << line << ": " << r.message;
            EXPECT_TRUE(r.options || r.message.find("pid 4321") != std::string::npos ||
                        r.message.find("render: cannot read") != std::string::npos)
                << line << ": " << r.message;
        }
    }
}

// Every variable read_env_config() reads, and NO_COLOR; nothing it does not read.
TEST(CliHelp, EnvironmentListsWhatCwtraceReads) {
    std::set<std::string> read = {"NO_COLOR"};
    read_env_config([&](const char* name) -> const char* {
        read.insert(name);
        return nullptr;
    });
    std::set<std::string> listed;
    for (const std::string& line : section(help({"--help"}), "ENVIRONMENT:")) {
        std::istringstream words(line);
        std::string name;
        words >> name;
        listed.insert(name);
    }
    EXPECT_EQ(listed, read);
}

TEST(CliHelp, Quiet) {
    std::vector<const char*> argv = {"cwtrace", "-q"};
    CliResult r = parse_cli(2, argv.data());
    ASSERT_TRUE(r.options) << r.message;
    EXPECT_TRUE(r.options->quiet);
    argv = {"cwtrace", "--quiet", "-v"};
    r = parse_cli(3, argv.data());
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.message.find("--quiet and --verbose"), std::string::npos) << r.message;
}

}  // namespace
}  // namespace cwtrace
