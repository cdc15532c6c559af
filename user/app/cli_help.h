// What `cwtrace --help` and `cwtrace render --help` print beyond CLI11's option list: option
// descriptions wrapped so that every line fits 100 columns, examples (as bcc's tools print
// theirs), the environment variables, and the DURATION syntax.
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <memory>
#include <string>

namespace cwtrace {

// Every help line fits this many columns.
constexpr std::size_t kHelpColumns = 100;

// CLI11's formatter with descriptions wrapped at word boundaries (CLI11 2.1 does not wrap) and
// positional arguments shown by their name alone (REPORT, not "REPORT TEXT REQUIRED").
std::shared_ptr<CLI::Formatter> help_formatter();

// The footers: the tracing command's (examples, environment, durations, exit status) and
// render's (examples).
std::string trace_help_footer();
std::string render_help_footer();

}  // namespace cwtrace
