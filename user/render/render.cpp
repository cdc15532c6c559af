#include "render/render.h"

namespace cwtrace {

const char* to_string(Format format) {
    switch (format) {
        case Format::Json:
            return "json";
        case Format::Folded:
            return "folded";
        case Format::Svg:
            return "svg";
        case Format::Speedscope:
            return "speedscope";
        case Format::Pprof:
            return "pprof";
        case Format::Text:
            break;
    }
    return "text";
}

bool is_streaming(Format format) { return format == Format::Text || format == Format::Json; }

std::string render(const Report& report, Format format, const ReportContext& context) {
    switch (format) {
        case Format::Json:
            return render_json(report, context);
        case Format::Folded:
            return render_folded(report, context.weight, context.mark_own);
        case Format::Svg:
            return render_svg(report, context);
        case Format::Speedscope:
            return render_speedscope(report, context);
        case Format::Pprof:
            return render_pprof(report, context);
        case Format::Text:
            break;
    }
    return render_text(report, context);
}

bool render(const Report& report, Format format, const ReportContext& context,
            const ReportSink& sink) {
    if (format == Format::Json) return render_json(report, context, sink);
    return sink(render(report, format, context));
}

}  // namespace cwtrace
