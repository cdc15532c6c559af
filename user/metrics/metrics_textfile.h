// `--metrics-textfile`: the exposition written for node_exporter's textfile collector.
#pragma once

#include <string>

#include "util/result.h"

namespace cwtrace {

// node_exporter reads the textfile directory as its own user (`prometheus` in Debian's
// package), and the collector's own scripts leave their files 0644: so is this one. It holds
// what /proc/net/tcp and /proc/PID/comm show every account anyway (counts by comm and peer).
constexpr unsigned kTextfileMode = 0644;

// Replaces `path` atomically (util/atomic_file: a temporary in the same directory, fsynced,
// renamed over it), so the collector never reads a half-written file and a link planted in the
// directory is never followed.
Result<void> write_textfile_atomically(const std::string& path, const std::string& text);

}  // namespace cwtrace
