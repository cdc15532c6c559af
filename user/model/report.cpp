// Names of the report model's enumerations and processes, as they appear in the reports, a
// socket's best known age, and where a report is taken.
#include "model/report.h"

#include <unistd.h>

#include <charconv>
#include <cinttypes>
#include <cmath>
#include <cstdio>

#include "util/display.h"

namespace cwtrace {

double best_age_seconds(const SocketEntry& socket) {
    const double age = socket.age_estimate_seconds.value_or(socket.close_wait_seconds);
    return std::isfinite(age) && age > 0 ? age : 0;
}

std::string format_process(const std::optional<std::string>& comm, std::optional<uint32_t> pid) {
    if (!comm && !pid) return "unknown";
    return (comm ? display_safe(*comm) : "?") + "[" + (pid ? std::to_string(*pid) : "?") + "]";
}

std::string format_address(uint64_t address) {
    char text[19];
    std::snprintf(text, sizeof text, "0x%" PRIx64, address);
    return text;
}

std::optional<uint64_t> parse_address(std::string_view text) {
    if (!text.starts_with("0x") || text.size() < 3 || text.size() > 18) return std::nullopt;
    uint64_t value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data() + 2, end, value, 16);
    if (ec != std::errc() || ptr != end) return std::nullopt;
    return value;
}

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

const char* to_string(CloseKind kind) {
    switch (kind) {
        case CloseKind::Close:
            return "close";
        case CloseKind::Reset:
            return "reset";
        case CloseKind::Exit:
            return "exit";
        case CloseKind::Kernel:
            return "kernel";
        case CloseKind::Unknown:
            break;
    }
    return "unknown";
}

std::string describe(Diagnosis diagnosis, std::optional<uint32_t> recv_q) {
    if (diagnosis == Diagnosis::UnreadData && recv_q && *recv_q > 1) {
        const uint32_t unread = *recv_q - 1;  // the FIN takes one sequence number
        return std::to_string(unread) + " B unread";
    }
    switch (diagnosis) {
        case Diagnosis::UnreadData:
            return "data unread";
        case Diagnosis::EofNotRead:
            return "EOF unread";
        case Diagnosis::EofReadNotClosed:
            return "never closed";
        case Diagnosis::Unknown:
            break;
    }
    return "not seen";
}

const char* summarize(Diagnosis diagnosis) {
    switch (diagnosis) {
        case Diagnosis::UnreadData:
            return "never read to the end";
        case Diagnosis::EofNotRead:
            return "EOF never read";
        case Diagnosis::EofReadNotClosed:
            return "EOF read but never closed";
        case Diagnosis::Unknown:
            break;
    }
    return "not seen by sock_diag";
}

const char* likely_cause(Diagnosis diagnosis) {
    switch (diagnosis) {
        case Diagnosis::UnreadData:
            return "the response was never read to the end, typical of an idle pooled connection";
        case Diagnosis::EofNotRead:
            return "every byte was read but not the EOF: the peer's close went unnoticed";
        case Diagnosis::EofReadNotClosed:
            return "close() never called: a leaked object, a missing `with` block or defer";
        case Diagnosis::Unknown:
            break;
    }
    return "the socket's queues could not be read (it closed meanwhile?)";
}

ReportContext ReportContext::here() {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0) return {};
    return {host};
}

const char* to_string(FlameWeight weight) {
    return weight == FlameWeight::Seconds ? "seconds" : "sockets";
}

std::optional<FlameWeight> parse_flame_weight(std::string_view text) {
    if (text == "sockets") return FlameWeight::Sockets;
    if (text == "seconds") return FlameWeight::Seconds;
    return std::nullopt;
}

}  // namespace cwtrace
