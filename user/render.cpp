#include "cwtrace/render.h"

namespace cwtrace {

std::string render(const Report& report, Format format) {
    switch (format) {
        case Format::Json:
            return render_json(report);
        case Format::Text:
            break;
    }
    return render_text(report);
}

}  // namespace cwtrace
