#include "metrics/metrics_textfile.h"

#include "util/atomic_file.h"

namespace cwtrace {

Result<void> write_textfile_atomically(const std::string& path, const std::string& text) {
    auto written = write_file_atomically(path, text, kTextfileMode);
    if (written) return written;
    return Error{"--metrics-textfile: " + written.error().message,
                 "the directory must be writable by cwtrace"};
}

}  // namespace cwtrace
