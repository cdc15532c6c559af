// A report's layout for its destination (see presentation.h).
#include "app/presentation.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>

namespace cwtrace {
namespace {

// The terminal's columns, or 80 when it says none (a serial console reports 0).
size_t terminal_columns(int fd) {
    winsize size{};
    if (ioctl(fd, TIOCGWINSZ, &size) != 0 || size.ws_col == 0) return 80;
    return size.ws_col;
}

}  // namespace

void set_presentation(ReportContext& context, const Options& options, std::FILE* stream) {
    const int fd = stream ? fileno(stream) : -1;
    const bool terminal = fd >= 0 && isatty(fd);
    context.text_width = options.width ? *options.width : terminal ? terminal_columns(fd) : 80;
    // https://no-color.org: set and not empty means no colour, unless asked for by a flag.
    const char* no_color = std::getenv("NO_COLOR");
    const bool color_unwanted = no_color && *no_color;
    context.color = stream && (options.color == ColorMode::Always ||
                               (options.color == ColorMode::Auto && terminal && !color_unwanted));
    context.full_stacks = options.full_stacks;
    context.mark_own = options.mark_own;
}

}  // namespace cwtrace
