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

const char* to_string(Diagnosis diagnosis) {
    switch (diagnosis) {
        case Diagnosis::UnreadData:
            return "unread_data";
        case Diagnosis::EofNotRead:
            return "eof_not_read";
        case Diagnosis::EofReadNotClosed:
            return "eof_read_not_closed";
        case Diagnosis::Unknown:
            break;
    }
    return "unknown";
}

std::string describe(Diagnosis diagnosis, std::optional<uint32_t> recv_q) {
    switch (diagnosis) {
        case Diagnosis::UnreadData:
            return "response never read to the end (" + std::to_string(recv_q.value_or(1) - 1) +
                   " bytes unread): typical of an idle pooled connection";
        case Diagnosis::EofNotRead:
            return "data read but not the EOF: the peer's close was never noticed";
        case Diagnosis::EofReadNotClosed:
            return "EOF read but never closed: a missing close() or `with` block, or a leaked "
                   "object";
        case Diagnosis::Unknown:
            break;
    }
    return "not visible to sock_diag (another network namespace?)";
}

}  // namespace cwtrace
