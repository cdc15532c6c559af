#include "app/cli.h"

#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

#include "app/cli_help.h"
#include "cwtrace/abi.h"
#include "render/text_layout.h"
#include "report/own_frame.h"
#include "util/display.h"

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
    if (!allow_zero && d->count() == 0)
        throw UsageError{flag + ": duration must be > 0, not '" + text + "'"};
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
    for (Format f : {Format::Text, Format::Json, Format::Folded, Format::Svg, Format::Speedscope,
                     Format::Pprof})
        if (text == to_string(f)) return f;
    throw UsageError{"--format: unknown format '" + text +
                     "' (supported: text, json, folded, svg, speedscope, pprof)"};
}

FlameWeight weight_arg(const std::string& text) {
    if (text.empty()) return FlameWeight::Sockets;
    if (auto weight = parse_flame_weight(text)) return *weight;
    throw UsageError{"--weight: unknown weight '" + text + "' (sockets or seconds)"};
}

// --format wins; without it the output file's name decides.
Format resolve_format(const std::string& format, const std::string& output) {
    if (!format.empty()) return format_arg(format);
    return output.empty() ? Format::Text : format_for_path(output);
}

// A binary profile would garble a terminal; a pipe or a file is fine.
void check_binary_destination(Format format, const std::string& output) {
    if (format == Format::Pprof && output.empty() && isatty(STDOUT_FILENO))
        throw UsageError{"--format pprof: the profile is binary; write it with -o PATH.pb.gz"};
}

void check_input_path(const std::string& path) {
    if (path == "-") return;
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw UsageError{"render: '" + path + "' is a directory"};
    if (access(path.c_str(), R_OK) != 0)
        throw UsageError{"render: cannot read '" + path + "': " + std::strerror(errno)};
}

// What is at an output path already: nothing, a regular file or a character device (/dev/null),
// which util/atomic_file writes; never a link followed (/dev/stdout included: it would be
// replaced, not written through), nor a FIFO or socket (they would be replaced too).
void check_existing_output(const std::string& flag, const std::string& path) {
    struct stat st = {};
    if (lstat(path.c_str(), &st) != 0) return;
    if (S_ISLNK(st.st_mode))
        throw UsageError{flag + ": '" + path +
                         "' is a symbolic link (not followed: name its target, or omit " + flag +
                         " for stdout)"};
    if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode) && !S_ISDIR(st.st_mode))
        throw UsageError{flag + ": '" + path + "' is not a regular file"};
}

// Checked before tracing starts, so a long run is not lost at the end.
void check_output_path(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path p(path);
    check_existing_output("--output", path);
    if (fs::is_directory(p, ec)) throw UsageError{"--output: '" + path + "' is a directory"};
    fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
    if (!fs::is_directory(dir, ec))
        throw UsageError{"--output: directory '" + dir.string() + "' does not exist"};
    bool exists = fs::exists(p, ec);
    if (access(exists ? path.c_str() : dir.c_str(), W_OK) != 0)
        throw UsageError{"--output: '" + path + "' is not writable"};
}

MetricsAddr metrics_addr_arg(const std::string& text) {
    auto addr = parse_metrics_addr(text);
    if (!addr)
        throw UsageError{"--metrics-addr: invalid address '" + text +
                         "' (use HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464)"};
    if (!addr->host.empty()) {
        addrinfo hints = {};
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* found = nullptr;
        if (getaddrinfo(addr->host.c_str(), nullptr, &hints, &found) != 0)
            throw UsageError{"--metrics-addr: unknown host '" + addr->host + "' in '" + text + "'"};
        freeaddrinfo(found);
    }
    return *addr;
}

size_t metrics_top_arg(const std::string& text) {
    size_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size() || n < 1 || n > 10000)
        throw UsageError{"--metrics-top: invalid count '" + text + "' (1 to 10000)"};
    return n;
}

// Written again and again for hours: a bad directory should fail now, not at the first write.
void check_textfile_path(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path p(path);
    check_existing_output("--metrics-textfile", path);
    if (fs::is_directory(p, ec))
        throw UsageError{"--metrics-textfile: '" + path + "' is a directory"};
    fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
    if (!fs::is_directory(dir, ec))
        throw UsageError{"--metrics-textfile: directory '" + dir.string() + "' does not exist"};
    if (access(dir.c_str(), W_OK) != 0)
        throw UsageError{"--metrics-textfile: directory '" + dir.string() + "' is not writable"};
}

// The strings CLI11 fills in, before they are checked.
struct RawArgs {
    std::string min_age = "30s", duration, interval, format, output, btf, input, weight;
    std::string metrics_addr, metrics_textfile, metrics_top;
    std::vector<std::string> pids, own;
    FilterArgs filters;  // --port, --lport, --rport, --remote, --comm, --container, --cgroup
    bool verbose = false, quiet = false;
    std::string user_stacks = "dwarf", user_stack_bytes = "8192";
    std::string width, color = "auto";
    bool full_stacks = false, mark_own = false;
};

// --width, --color, --full-stacks, --mark-own: how a report is drawn, for tracing and render.
void presentation_options(const RawArgs& a, Options& o) {
    if (!a.width.empty()) {
        unsigned long n = 0;
        auto [end, ec] = std::from_chars(a.width.data(), a.width.data() + a.width.size(), n);
        if (ec != std::errc() || end != a.width.data() + a.width.size() ||
            n < text_layout::kMinWidth || n > text_layout::kMaxWidth)
            throw UsageError{"--width: invalid width '" + a.width + "' (" +
                             std::to_string(text_layout::kMinWidth) + " to " +
                             std::to_string(text_layout::kMaxWidth) + " columns)"};
        o.width = n;
    }
    if (a.color == "auto")
        o.color = ColorMode::Auto;
    else if (a.color == "always")
        o.color = ColorMode::Always;
    else if (a.color == "never")
        o.color = ColorMode::Never;
    else
        throw UsageError{"--color: unknown mode '" + a.color + "' (auto, always or never)"};
    o.full_stacks = a.full_stacks;
    o.mark_own = a.mark_own;
}

UserStacks user_stacks_arg(const std::string& text) {
    if (text == "fp") return UserStacks::FramePointers;
    if (text == "dwarf") return UserStacks::Dwarf;
    throw UsageError{"--user-stacks: unknown mode '" + text + "' (supported: fp, dwarf)"};
}

uint32_t user_stack_bytes_arg(const std::string& text) {
    unsigned long n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size() || n == 0 ||
        n > CW_MAX_USER_STACK_BYTES || n % CW_USER_STACK_CHUNK != 0)
        throw UsageError{"--user-stack-bytes: invalid size '" + text + "' (a multiple of " +
                         std::to_string(CW_USER_STACK_CHUNK) + " up to " +
                         std::to_string(CW_MAX_USER_STACK_BYTES) + ")"};
    return static_cast<uint32_t>(n);
}

Options trace_options(const RawArgs& a) {
    Options o;
    o.min_age = duration_arg("--min-age", a.min_age, true);
    if (!a.duration.empty()) o.duration = duration_arg("--duration", a.duration, false);
    if (!a.interval.empty()) o.interval = duration_arg("--interval", a.interval, false);
    if (a.pids.size() > 8) throw UsageError{"--pid: at most 8 pids"};
    for (const auto& p : a.pids) o.pids.push_back(pid_arg(p));
    auto filter = make_socket_filter(a.filters);
    if (!filter) throw UsageError{filter.error().message};
    o.filter = std::move(*filter);
    o.format = resolve_format(a.format, a.output);
    o.weight = weight_arg(a.weight);
    // Periodic reports stream to stdout: as JSON Lines for json, as text for any other format.
    o.periodic_format = o.format == Format::Json ? Format::Json : Format::Text;
    if (o.interval && !is_streaming(o.format) && a.output.empty())
        throw UsageError{std::string("--interval: periodic reports go to stdout as text, so the ") +
                         to_string(o.format) + " report needs -o PATH"};
    if (!a.output.empty()) check_output_path(a.output);
    check_binary_destination(o.format, a.output);
    o.output = a.output;
    o.btf_path = a.btf;
    o.verbose = a.verbose;
    if (a.verbose && a.quiet) throw UsageError{"--quiet and --verbose: choose one"};
    o.quiet = a.quiet;
    if (!a.metrics_addr.empty()) o.metrics_addr = metrics_addr_arg(a.metrics_addr);
    if (!a.metrics_textfile.empty()) check_textfile_path(a.metrics_textfile);
    o.metrics_textfile = a.metrics_textfile;
    if (!a.metrics_top.empty()) o.metrics_top = metrics_top_arg(a.metrics_top);
    o.user_stacks = user_stacks_arg(a.user_stacks);
    o.user_stack_bytes = user_stack_bytes_arg(a.user_stack_bytes);
    if (auto own = OwnCode::with_patterns(a.own); !own) throw UsageError{own.error().message};
    o.own_patterns = a.own;
    presentation_options(a, o);
    return o;
}

// `render` takes REPORT, --format and --output; a tracing flag there is a mistake worth saying.
Options render_options(const CLI::App& app, const RawArgs& a) {
    for (const char* flag : {"--min-age", "--pid", "--duration", "--interval", "--btf",
                             "--metrics-addr", "--metrics-textfile", "--metrics-top",
                             "--user-stacks", "--user-stack-bytes", "--own", "--quiet", "--port",
                             "--lport", "--rport", "--remote", "--comm", "--container", "--cgroup"})
        if (app.count(flag) > 0)
            throw UsageError{std::string("render: ") + flag + " applies to tracing, not render"};
    Options o;
    o.command = Command::Render;
    check_input_path(a.input);
    o.input = a.input;
    o.format = resolve_format(a.format, a.output);
    o.weight = weight_arg(a.weight);
    if (!a.output.empty()) check_output_path(a.output);
    check_binary_destination(o.format, a.output);
    o.output = a.output;
    o.verbose = a.verbose;
    presentation_options(a, o);
    return o;
}

// The options of both the tracing command and render: what to write, where, and how loud.
void add_output_options(CLI::App& app, RawArgs& a) {
    app.add_option("-f,--format", a.format,
                   "text | json | folded | svg | speedscope | pprof (default: from --output's "
                   "name: .json .svg .folded .speedscope.json .pb.gz, else text)")
        ->type_name("FORMAT");
    app.add_option("-o,--output", a.output, "write the final report to PATH instead of stdout")
        ->type_name("PATH");
    app.add_option("--weight", a.weight,
                   "what flame-style formats (folded, svg, speedscope, pprof) weigh each opening "
                   "path by: sockets (default) or seconds spent in CLOSE_WAIT")
        ->type_name("WEIGHT");
    app.add_option("--width", a.width, "text report width (default: the terminal's, else 80)")
        ->type_name("N");
    app.add_option("--color", a.color,
                   "colour in the text report: auto (a terminal), always, never")
        ->type_name("WHEN");
    app.add_flag("--full-stacks", a.full_stacks, "text report: show library frames unfolded");
    app.add_flag("--mark-own", a.mark_own, "folded output: mark the user's own frame with [own]");
    app.add_flag("-v,--verbose", a.verbose, "print libbpf's and cwtrace's debug messages");
}

}  // namespace

std::optional<MetricsAddr> parse_metrics_addr(const std::string& text) {
    MetricsAddr addr;
    std::string port;
    if (text.starts_with("[")) {
        const size_t close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return std::nullopt;
        addr.host = text.substr(1, close - 1);
        if (addr.host.empty()) return std::nullopt;
        port = text.substr(close + 2);
    } else {
        const size_t colon = text.rfind(':');
        if (colon == std::string::npos) return std::nullopt;
        addr.host = text.substr(0, colon);
        if (addr.host.find_first_of(":[]") != std::string::npos) return std::nullopt;
        port = text.substr(colon + 1);
    }
    unsigned n = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || n < 1 || n > 65535)
        return std::nullopt;
    addr.port = static_cast<uint16_t>(n);
    return addr;
}

Format format_for_path(const std::string& path) {
    std::string name = std::filesystem::path(path).filename().string();
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const std::pair<const char*, Format> suffixes[] = {{".speedscope.json", Format::Speedscope},
                                                       {".json", Format::Json},
                                                       {".svg", Format::Svg},
                                                       {".folded", Format::Folded},
                                                       {".pb.gz", Format::Pprof}};
    for (const auto& [suffix, format] : suffixes)
        if (name.ends_with(suffix) && name.size() > std::strlen(suffix)) return format;
    return Format::Text;
}

CliResult parse_cli(int argc, const char* const* argv) {
    CLI::App app{
        "cwtrace: find TCP sockets stuck in CLOSE_WAIT, who owns them, and the code "
        "that opened them.",
        "cwtrace"};
    app.formatter(help_formatter());
    RawArgs a;
    app.add_option("--min-age", a.min_age,
                   "report sockets in CLOSE_WAIT at least this long (default 30s)")
        ->type_name("DURATION");
    app.add_option("-p,--pid", a.pids, "only sockets owned by this process; repeatable")
        ->type_name("PID");
    // The socket filters: each one given must match; a repeated one matches any of its values.
    app.add_option("--port", a.filters.ports,
                   "only sockets with this local or remote port; up to 8")
        ->type_name("PORT");
    app.add_option("--lport", a.filters.local_ports, "only sockets with this local port; up to 8")
        ->type_name("PORT");
    app.add_option("--rport", a.filters.remote_ports, "only sockets with this remote port; up to 8")
        ->type_name("PORT");
    app.add_option("--remote", a.filters.remotes,
                   "only sockets to this address or range (IPv4, IPv6); up to 8")
        ->type_name("CIDR");
    app.add_option("--comm", a.filters.comms, "only sockets owned by this process name; up to 8")
        ->type_name("NAME");
    app.add_option("--container", a.filters.containers,
                   "only sockets owned in this container (id prefix); up to 8")
        ->type_name("ID");
    app.add_option("--cgroup", a.filters.cgroups,
                   "only sockets owned in this cgroup v2 path or below; up to 8")
        ->type_name("PATH");
    app.add_option("-d,--duration", a.duration, "stop after this long and print the final report")
        ->type_name("DURATION");
    app.add_option("-i,--interval", a.interval,
                   "also print a report every DURATION while running (text, or JSON Lines "
                   "with -f json, on stdout)")
        ->type_name("DURATION");
    add_output_options(app, a);
    app.add_option("--btf", a.btf, "kernel BTF file (default: /sys/kernel/btf/vmlinux)")
        ->type_name("PATH");
    app.add_option("--user-stacks", a.user_stacks,
                   "fp | dwarf: how user stacks are recorded. fp: frame-pointer walk in the "
                   "kernel; dwarf (default): also copy the user stack at each connect/accept and "
                   "unwind it with the binaries' CFI, so code built without frame pointers "
                   "(Debian's glibc, python3) shows its callers")
        ->type_name("MODE");
    app.add_option("--user-stack-bytes", a.user_stack_bytes,
                   "dwarf mode: bytes of user stack copied per connect/accept (default 8192, a "
                   "multiple of 512, at most 16384)")
        ->type_name("N");
    app.add_option("--own", a.own,
                   "a regular expression: frames whose function, module or file it matches are "
                   "the user's own code, where reports lead (beside the program's own frames "
                   "outside libraries and runtimes); repeatable")
        ->type_name("REGEX");
    app.add_flag("-q,--quiet", a.quiet,
                 "no messages on stderr but errors and warnings (losses among them); no progress");
    app.add_option("--metrics-addr", a.metrics_addr,
                   "serve Prometheus metrics on http://HOST:PORT/metrics (e.g. 127.0.0.1:9464, "
                   "[::1]:9464; :9464 for every address), refreshed every second")
        ->type_name("HOST:PORT");
    app.add_option("--metrics-textfile", a.metrics_textfile,
                   "write the same metrics to PATH (name it *.prom) for node_exporter's textfile "
                   "collector, replaced atomically every 10s and at exit")
        ->type_name("PATH");
    app.add_option("--metrics-top", a.metrics_top,
                   "the CLOSE_WAIT gauge keeps its N largest (comm, remote address) series and "
                   "sums the rest under comm=\"other\",remote=\"other\" (default 20)")
        ->type_name("N");
    app.set_version_flag("--version", std::string("cwtrace ") + CWTRACE_VERSION);
    CLI::App* render = app.add_subcommand(
        "render",
        "draw a saved JSON report (cwtrace -f json) in another format, without tracing (no "
        "root needed): cwtrace render REPORT [-f FORMAT] [-o PATH]");
    render->add_option("REPORT", a.input, "the JSON report ('-': stdin)")->required();
    // render's own -f, -o, --weight and -v, so that `cwtrace render --help` lists them; the same
    // ones before `render` belong to the main app. Tracing flags after REPORT fall through to it
    // too, where render_options names them as a mistake.
    add_output_options(*render, a);
    render->fallthrough();
    render->footer(render_help_footer());
    app.require_subcommand(0, 1);
    app.footer(trace_help_footer());
    try {
        app.parse(argc, argv);
        Options o = render->parsed() ? render_options(app, a) : trace_options(a);
        return {std::move(o), 0, {}};
    } catch (const CLI::CallForHelp&) {
        return {std::nullopt, 0, app.help()};
    } catch (const CLI::CallForVersion& e) {
        return {std::nullopt, 0, std::string(e.what()) + "\n"};
    } catch (const CLI::ParseError& e) {
        return {std::nullopt, 2, "cwtrace: " + display_safe(e.what()) + " (see --help)\n"};
    } catch (const UsageError& e) {
        // One line, whatever bytes the bad value had.
        return {std::nullopt, 2, "cwtrace: " + display_safe(e.message) + "\n"};
    }
}

}  // namespace cwtrace
