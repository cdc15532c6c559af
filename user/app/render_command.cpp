#include "app/render_command.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "app/presentation.h"
#include "render/render.h"
#include "report/report_reader.h"
#include "util/atomic_file.h"
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
    struct stat st = {};
    if (::fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode) &&
        static_cast<uint64_t>(st.st_size) <= kMaxInputBytes)
        text.reserve(static_cast<size_t>(st.st_size));  // not twice its size by doubling
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

bool render_to_stdout(const Report& report, Format format, const ReportContext& context) {
    return render(report, format, context,
                  [](std::string_view piece) {
                      return std::fwrite(piece.data(), 1, piece.size(), stdout) == piece.size();
                  }) &&
           std::fflush(stdout) == 0;
}

// As the tracing run's -o (util/atomic_file), and never lost: the rendering goes to stdout
// when -o cannot take it.
int render_to_file(const Options& options, const Report& report, const ReportContext& context) {
    auto file = AtomicFile::open(options.output);
    Result<void> written = file ? Result<void>(Ok{}) : file.error();
    if (file) {
        render(report, options.format, context,
               [&](std::string_view piece) { return file->write(piece); });
        written = file->commit();
    }
    if (written) return 0;
    const bool binary_to_terminal = options.format == Format::Pprof && isatty(STDOUT_FILENO);
    std::fprintf(stderr, "cwtrace: %s (hint: %s)\n", written.error().message.c_str(),
                 binary_to_terminal ? "binary pprof is not written to a terminal"
                                    : "the rendering follows on stdout");
    if (!binary_to_terminal) render_to_stdout(report, options.format, context);
    return 1;
}

}  // namespace

// The input is held once, and freed before rendering; the report is read from it socket by
// socket (report_reader) and rendered in pieces: the peak stays a small multiple of the input.
int render_saved_report(const Options& options) {
    Result<SavedReport> saved = Error{};
    {
        auto text = read_input(options.input);
        if (!text) return usage_error(text.error().message);
        saved = read_report(*text);
    }
    if (!saved) return usage_error(options.input + ": " + saved.error().message);
    ReportContext context = saved->context;
    context.weight = options.weight;
    set_presentation(context, options, options.output.empty() ? stdout : nullptr);
    if (!options.output.empty()) return render_to_file(options, saved->report, context);
    if (render_to_stdout(saved->report, options.format, context)) return 0;
    std::fprintf(stderr, "cwtrace: cannot write to stdout: %s\n", std::strerror(errno));
    return 1;
}

}  // namespace cwtrace
