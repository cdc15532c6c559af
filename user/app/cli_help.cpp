#include "app/cli_help.h"

#include <algorithm>
#include <cstring>
#include <sstream>
#include <string_view>
#include <vector>

namespace cwtrace {
namespace {

// Where descriptions start: the longest option with its placeholder ("--metrics-addr HOST:PORT")
// fits before it, and a description keeps 70 columns.
constexpr std::size_t kNameColumn = 30;

// `text` broken at spaces into lines of at most `width` columns (a longer word stands alone).
std::string wrap(std::string_view text, std::size_t width) {
    std::string out, line;
    std::istringstream words{std::string(text)};
    for (std::string word; words >> word;) {
        if (!line.empty() && line.size() + 1 + word.size() > width) {
            out += line + "\n";
            line.clear();
        }
        line += (line.empty() ? "" : " ") + word;
    }
    return out + line;
}

class WrappingFormatter : public CLI::Formatter {
  public:
    WrappingFormatter() { column_width(kNameColumn); }

    std::string make_option_desc(const CLI::Option* opt) const override {
        return wrap(opt->get_description(), kHelpColumns - kNameColumn);
    }
    std::string make_option_opts(const CLI::Option* opt) const override {
        return opt->get_positional() ? "" : CLI::Formatter::make_option_opts(opt);
    }
    std::string make_subcommand(const CLI::App* sub) const override {
        std::stringstream out;
        CLI::detail::format_help(out, sub->get_name(),
                                 wrap(sub->get_description(), kHelpColumns - kNameColumn),
                                 kNameColumn);
        return out.str();
    }
    std::string make_description(const CLI::App* app) const override {
        return wrap(app->get_description(), kHelpColumns) + "\n";
    }
};

// A name (a command, a variable) and what it does or means, on one line.
struct Entry {
    const char* name;
    const char* what;
};

// `title`, then each entry's name and, from `column` on, `prefix` and what it is.
std::string two_columns(const char* title, const std::vector<Entry>& list, std::size_t column,
                        const char* prefix) {
    std::string out = std::string(title) + "\n";
    for (const Entry& e : list) {
        std::string line = std::string("  ") + e.name;
        line.resize(std::max(column, line.size() + 2), ' ');
        out += line + prefix + e.what + "\n";
    }
    return out;
}

// As bcc's tools list theirs: commands, their comments aligned after the longest.
std::string examples(const std::vector<Entry>& list) {
    std::size_t column = 0;
    for (const Entry& e : list) column = std::max(column, std::strlen(e.name) + 4);
    return two_columns("EXAMPLES:", list, column, "# ");
}

// What a user may set, as config.cpp reads it (read_env_config; the unit test holds the two
// together), and NO_COLOR. Variables only the tests read (CWTRACE_REQUIRE_BPF,
// CWTRACE_BUILD_DIR, in tests/ and scripts/) are not cwtrace's and stay out.
std::string environment() {
    return two_columns(
        "ENVIRONMENT:",
        {
            {"CWTRACE_TRACEFS", "where tracefs is mounted (default: found, or mounted)"},
            {"CWTRACE_HOST_ROOT", "where the host's / is seen (kubelet's pod logs beneath it)"},
            {"CWTRACE_ORIGIN_MAP_ENTRIES",
             "sockets whose opener the kernel keeps (default: from the host)"},
            {"CWTRACE_STACK_MAP_ENTRIES", "distinct stacks kept (default 16384)"},
            {"CWTRACE_RINGBUF_BYTES", "event ring buffer, a power of two (default 2 MiB)"},
            {"CWTRACE_COPY_RINGBUF_BYTES",
             "dwarf mode's stack-copy ring, a power of two (default 8 MiB)"},
            {"CWTRACE_QUICK_RING_SLOTS",
             "quick leaves' ring per CPU, a power of two (default: from the CPUs)"},
            {"CWTRACE_PROC_OWNERS", "set: find socket holders in /proc/*/fd, not by the BPF walk"},
            {"CWTRACE_PROBED_READS", "set: load the probe-read programs (as before 6.2) anyway"},
            {"CWTRACE_NO_BPF_LOOP",
             "set: load the programs for kernels without bpf_loop (before 5.17)"},
            {"NO_COLOR", "set: no colour in the text report, even on a terminal"},
        },
        kNameColumn, "");
}

}  // namespace

std::shared_ptr<CLI::Formatter> help_formatter() { return std::make_shared<WrappingFormatter>(); }

std::string trace_help_footer() {
    return examples({
               {"sudo cwtrace --min-age 30s", "stuck 30s or more, until Ctrl-C"},
               {"sudo cwtrace -p 4321 -d 1m", "process 4321's sockets, for a minute"},
               {"sudo cwtrace --rport 5432 --remote 10.0.0.0/8",
                "to Postgres servers in 10/8 only"},
               {"sudo cwtrace -d 5m -f json -o r.json", "five minutes, saved as JSON"},
               {"cwtrace render r.json -o r.svg", "that report as a flame graph (no root)"},
               {"sudo cwtrace -i 1m -f json > r.jsonl", "a JSON report a minute (JSON Lines)"},
               {"sudo cwtrace --metrics-addr :9464", "run on, Prometheus at :9464/metrics"},
               {"sudo cwtrace -q -d 10m -o r.txt", "no messages but errors and losses"},
           }) +
           "\n" + environment() + "\n" +
           wrap(
               "DURATION: an integer or decimal with unit ms, s, m or h; compounds like 1m30s; "
               "a bare number means seconds.",
               kHelpColumns) +
           "\nExit status: 0 normal run, 1 runtime failure, 2 usage error.";
}

std::string render_help_footer() {
    return examples({
        {"cwtrace render r.json -o r.svg", "a flame graph, its format from the name"},
        {"cwtrace render r.json -f folded", "folded stacks on stdout (flamegraph.pl)"},
        {"cwtrace render r.json --weight seconds -o r.svg", "widths by time in CLOSE_WAIT"},
        {"ssh host cat r.json | cwtrace render - -f text", "a report from elsewhere, as text"},
    });
}

}  // namespace cwtrace
