// Names of the report model's enumerations and processes, as they appear in the reports, a
// socket's best known age, and where a report is taken.
#include "model/report.h"

#include <unistd.h>

#include <algorithm>
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

void sort_oldest_first(std::vector<const SocketEntry*>& sockets) {
    const auto older = [](const SocketEntry* a, const SocketEntry* b) {
        return best_age_seconds(*a) > best_age_seconds(*b);
    };
    if (std::is_sorted(sockets.begin(), sockets.end(), older)) return;
    std::vector<std::pair<double, size_t>> by_age;  // -age, then position: stable
    by_age.reserve(sockets.size());
    for (size_t i = 0; i < sockets.size(); ++i)
        by_age.emplace_back(-best_age_seconds(*sockets[i]), i);
    std::sort(by_age.begin(), by_age.end());
    std::vector<const SocketEntry*> sorted;
    sorted.reserve(sockets.size());
    for (const auto& [age, at] : by_age) sorted.push_back(sockets[at]);
    sockets = std::move(sorted);
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

const char* to_string(Runtime runtime) {
    switch (runtime) {
        case Runtime::Python:
            return "python";
        case Runtime::Go:
            return "go";
        case Runtime::Node:
            return "node";
        case Runtime::Java:
            return "java";
        case Runtime::Unknown:
            break;
    }
    return "unknown";
}

namespace {

// Data left unread: most often a response whose body nobody read or closed (the connection is
// held by that response, not idle in a pool), else a pooled connection the peer gave up on.
const char* unread_data(Runtime runtime) {
    switch (runtime) {
        case Runtime::Python:
            return "a response never read to the end nor closed: `with` the response (or "
                   "resp.close()), one shared Session";
        case Runtime::Go:
            return "a response body never read to the end nor closed: defer resp.Body.Close()";
        case Runtime::Node:
            return "a response never consumed (res.resume()) or a socket never ended: "
                   "socket.end()/destroy()";
        case Runtime::Java:
            return "a response body never read to the end nor closed: try-with-resources on "
                   "the response or its InputStream";
        case Runtime::Unknown:
            break;
    }
    return "data never read to the end and the socket never closed: a response left unread";
}

const char* never_closed(Runtime runtime) {
    switch (runtime) {
        case Runtime::Python:
            return "close() never called: a leaked socket or response object, a missing `with` "
                   "block";
        case Runtime::Go:
            return "Close() never called: a leaked net.Conn or resp.Body, a missing defer";
        case Runtime::Node:
            return "socket.end()/destroy() never called: an allowHalfOpen socket never ended, a "
                   "missing 'end' handler";
        case Runtime::Java:
            return "close() never called: a Socket or stream outside try-with-resources";
        case Runtime::Unknown:
            break;
    }
    return "close() never called on the descriptor: a leaked connection object";
}

}  // namespace

const char* likely_cause(Diagnosis diagnosis, Runtime runtime) {
    switch (diagnosis) {
        case Diagnosis::UnreadData:
            return unread_data(runtime);
        case Diagnosis::EofNotRead:
            return "every byte was read but not the EOF: the peer's close went unnoticed";
        case Diagnosis::EofReadNotClosed:
            return never_closed(runtime);
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
