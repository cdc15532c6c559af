// The command line (docs/report.md, cwtrace(8)) -> validated Options. Nothing below this parses
// flags.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "metrics/metrics_exporter.h"
#include "render/render.h"
#include "report/socket_filter.h"
#include "util/duration.h"

namespace cwtrace {

// What to do: trace (the default), or `cwtrace render REPORT.json` (draw a saved report).
enum class Command { Trace, Render };

// How user stacks are recorded (--user-stacks): a frame-pointer walk in the kernel, or also a
// copy of the stack unwound in userspace with the binaries' CFI (code without frame pointers).
enum class UserStacks { FramePointers, Dwarf };

// Colour in the text report (--color): on a terminal unless NO_COLOR is set, always, never.
enum class ColorMode { Auto, Always, Never };

struct Options {
    Command command = Command::Trace;
    Nanos min_age = std::chrono::seconds(30);
    std::vector<pid_t> pids;        // empty: every process
    SocketFilter filter;            // --port, --lport, --rport, --remote, --comm, ...
    std::optional<Nanos> duration;  // nullopt: until SIGINT/SIGTERM
    std::optional<Nanos> interval;  // periodic reports
    Format format = Format::Text;   // of the final report: --format, else from --output's name
    Format periodic_format = Format::Text;      // of --interval reports on stdout: text or json
    FlameWeight weight = FlameWeight::Sockets;  // --weight: what flame-style widths measure
    std::string output;                         // empty: stdout
    std::string input;                          // render: the saved JSON report; "-": stdin
    std::string btf_path;  // empty: the running kernel's /sys/kernel/btf/vmlinux
    bool verbose = false;
    bool quiet = false;  // --quiet: no messages on stderr but errors and warnings; no progress
    // Continuous mode: Prometheus exposition over HTTP and/or for node_exporter.
    std::optional<MetricsAddr> metrics_addr;
    std::string metrics_textfile;  // empty: none
    std::size_t metrics_top = 20;  // label series of the CLOSE_WAIT gauge; the rest is "other"
    UserStacks user_stacks = UserStacks::Dwarf;
    uint32_t user_stack_bytes = 8192;  // dwarf mode: bytes of stack copied per opening
    // --own: patterns of functions, modules or files that count as the user's own code.
    std::vector<std::string> own_patterns;
    // The text report's layout: --width (nullopt: the terminal's, else 80), --color,
    // --full-stacks (library frames not folded); the folded format's --mark-own.
    std::optional<size_t> width;
    ColorMode color = ColorMode::Auto;
    bool full_stacks = false;
    bool mark_own = false;
};

// Either options to run with, or an exit: status 0 (help, version) or 2 (usage error), with
// the text to print (to stdout for 0, stderr for 2).
struct CliResult {
    std::optional<Options> options;
    int exit_code = 0;
    std::string message;
};

CliResult parse_cli(int argc, const char* const* argv);

// The format an output path asks for by its name: .svg, .folded, .json, .speedscope.json,
// .pb.gz; text for any other name.
Format format_for_path(const std::string& path);

// "127.0.0.1:9464", "[::1]:9464", "localhost:9464", ":9464" -> host and port; nullopt when
// malformed (no port, port out of 1..65535, IPv6 without brackets).
std::optional<MetricsAddr> parse_metrics_addr(const std::string& text);

}  // namespace cwtrace
