#include "app/render_command.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "render/render.h"
#include "report/report_reader.h"
#include "util/display.h"

namespace cwtrace {
namespace {

// Far more than any report of cwtrace (its maps bound it to tens of MB); a bound so that
// `render /dev/zero` ends.
constexpr size_t kMaxInputBytes = size_t{1} << 30;

int usage_error(const std::string& message) {
    std::fprintf(stderr, "cwtrace: render: %s\n", display_safe(message).c_str());
    return 2;
}

// The whole input, or an error message.
Result<std::string> read_input(const std::string& path) {
    FILE* in = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
    if (!in) return Error{"cannot read '" + path + "': " + std::strerror(errno), ""};
    std::string text;
    char buf[1 << 16];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, in)) > 0 && text.size() <= kMaxInputBytes)
        text.append(buf, n);
    const bool failed = std::ferror(in) != 0;
    const int err = errno;
    if (in != stdin) std::fclose(in);
    if (failed) return Error{"cannot read '" + path + "': " + std::strerror(err), ""};
    if (text.size() > kMaxInputBytes) return Error{"'" + path + "' is larger than 1 GiB", ""};
    return text;
}

bool write_output(const std::string& path, const std::string& bytes) {
    FILE* out = path.empty() ? stdout : std::fopen(path.c_str(), "wb");
    if (!out) return false;
    bool ok = std::fwrite(bytes.data(), 1, bytes.size(), out) == bytes.size();
    ok = (out == stdout ? std::fflush(out) : std::fclose(out)) == 0 && ok;
    return ok;
}

}  // namespace

int render_saved_report(const Options& options) {
    auto text = read_input(options.input);
    if (!text) return usage_error(text.error().message);
    auto saved = read_report(*text);
    if (!saved) return usage_error(options.input + ": " + saved.error().message);
    ReportContext context = saved->context;
    context.weight = options.weight;
    const std::string bytes = render(saved->report, options.format, context);
    if (!write_output(options.output, bytes)) {
        std::fprintf(stderr, "cwtrace: cannot write %s: %s\n",
                     options.output.empty() ? "to stdout" : options.output.c_str(),
                     std::strerror(errno));
        return 1;
    }
    return 0;
}

}  // namespace cwtrace
