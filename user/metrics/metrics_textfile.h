// `--metrics-textfile`: the exposition written for node_exporter's textfile collector.
#pragma once

#include <string>

#include "util/result.h"

namespace cwtrace {

// Replaces `path` atomically: writes PATH.tmp in the same directory, fsyncs it, renames it over
// `path` (and fsyncs the directory), so the collector never reads a half-written file.
Result<void> write_textfile_atomically(const std::string& path, const std::string& text);

}  // namespace cwtrace
