#include "cwtrace/cli.h"

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <charconv>
#include <filesystem>

namespace cwtrace {
namespace {

// Thrown inside parsing, caught below and turned into exit status 2.
struct UsageError {
    std::string message;
};

Nanos duration_arg(const std::string& flag, const std::string& text, bool allow_zero) {
    auto d = parse_duration(text);
    if (!d)
        throw UsageError{flag + ": invalid duration '" + text +
                         "' (use e.g. 30s, 1m30s, 250ms, 1.5h)"};
    if (!allow_zero && d->count() == 0) throw UsageError{flag + ": duration must be > 0"};
    return *d;
}

pid_t pid_arg(const std::string& text) {
    long long pid = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
    if (ec != std::errc() || end != text.data() + text.size() || pid <= 0 || pid > 4194304)
        throw UsageError{"--pid: invalid pid '" + text + "'"};
    if (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
        throw UsageError{"--pid: no process with pid " + text};
    return static_cast<pid_t>(pid);
}

Format format_arg(const std::string& text) {
    if (text == "text") return Format::Text;
    if (text == "json") return Format::Json;
    throw UsageError{"--format: unknown format '" + text + "' (supported: text, json)"};
}

// Checked before tracing starts, so a long run is not lost at the end.
void check_output_path(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path p(path);
    if (fs::is_directory(p, ec)) throw UsageError{"--output: '" + path + "' is a directory"};
    fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
    if (!fs::is_directory(dir, ec))
        throw UsageError{"--output: directory '" + dir.string() + "' does not exist"};
    bool exists = fs::exists(p, ec);
    if (access(exists ? path.c_str() : dir.c_str(), W_OK) != 0)
        throw UsageError{"--output: '" + path + "' is not writable"};
}

}  // namespace

CliResult parse_cli(int argc, const char* const* argv) {
    CLI::App app{
        "cwtrace: find TCP sockets stuck in CLOSE_WAIT, who owns them, and the code "
        "that opened them.",
        "cwtrace"};
    std::string min_age = "30s", duration, interval, format = "text", output, btf;
    std::vector<std::string> pids;
    bool verbose = false;
    app.add_option("--min-age", min_age,
                   "report sockets in CLOSE_WAIT at least this long (default 30s)");
    app.add_option("-p,--pid", pids, "only sockets owned by this process; repeatable");
    app.add_option("-d,--duration", duration, "stop after this long and print the final report");
    app.add_option("-i,--interval", interval, "also print a report every DURATION while running");
    app.add_option("-f,--format", format, "text (default) | json");
    app.add_option("-o,--output", output, "write the final report to PATH instead of stdout");
    app.add_option("--btf", btf, "kernel BTF file (default: /sys/kernel/btf/vmlinux)");
    app.add_flag("-v,--verbose", verbose, "print libbpf's and cwtrace's debug messages");
    app.set_version_flag("--version", std::string("cwtrace ") + CWTRACE_VERSION);
    app.footer(
        "DURATION: integer or decimal with unit ms, s, m, h; compounds like 1m30s; a bare "
        "number means seconds.\nExit status: 0 normal run, 1 runtime failure, 2 usage error.");
    try {
        app.parse(argc, argv);
        Options o;
        o.min_age = duration_arg("--min-age", min_age, true);
        if (!duration.empty()) o.duration = duration_arg("--duration", duration, false);
        if (!interval.empty()) o.interval = duration_arg("--interval", interval, false);
        if (pids.size() > 8) throw UsageError{"--pid: at most 8 pids"};
        for (const auto& p : pids) o.pids.push_back(pid_arg(p));
        o.format = format_arg(format);
        if (!output.empty()) check_output_path(output);
        o.output = output;
        o.btf_path = btf;
        o.verbose = verbose;
        return {std::move(o), 0, {}};
    } catch (const CLI::CallForHelp&) {
        return {std::nullopt, 0, app.help()};
    } catch (const CLI::CallForVersion& e) {
        return {std::nullopt, 0, std::string(e.what()) + "\n"};
    } catch (const CLI::ParseError& e) {
        return {std::nullopt, 2, std::string("cwtrace: ") + e.what() + " (see --help)\n"};
    } catch (const UsageError& e) {
        return {std::nullopt, 2, "cwtrace: " + e.message + "\n"};
    }
}

}  // namespace cwtrace
