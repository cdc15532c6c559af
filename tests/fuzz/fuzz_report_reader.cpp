// libFuzzer target: `cwtrace render`'s JSON reader, then every renderer on what it accepted.
// Untrusted input must come out either as a report or as a one-line error, never as UB; a
// report it accepts must render in every format, and its JSON rendering must read back. One
// format per input (chosen by its length, so mutations reach them all): rendering all six
// each time made a run ~5x slower for no more coverage.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <string_view>

#include "render/render.h"
#include "report/report_reader.h"

namespace {

void check(bool ok) {
    if (!ok) std::abort();  // an invariant broken: libFuzzer reports it as a crash
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace cwtrace;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto saved = read_report(text);
    if (!saved) {
        const std::string& message = saved.error().message;
        check(!message.empty() && message.find('\n') == std::string::npos);
        return 0;
    }
    constexpr Format kFormats[] = {Format::Text, Format::Json,       Format::Folded,
                                   Format::Svg,  Format::Speedscope, Format::Pprof};
    (void)render(saved->report, kFormats[size % std::size(kFormats)], saved->context);

    auto again = read_report(render_json(saved->report, saved->context));
    check(again.ok());
    check(again->report.sockets.size() == saved->report.sockets.size());
    check(again->report.stats.lost_events == saved->report.stats.lost_events);
    return 0;
}
