// Names of the report model's enumerations, as they appear in the reports.
#include "cwtrace/report.h"

namespace cwtrace {

const char* to_string(OriginKind kind) {
    switch (kind) {
        case OriginKind::Connect:
            return "connect";
        case OriginKind::Accept:
            return "accept";
        case OriginKind::Unknown:
            break;
    }
    return "unknown";
}

}  // namespace cwtrace
