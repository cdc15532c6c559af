// JSON report, schema "cwtrace.report/1" (see CONTRACT.md): one document on one line.
// Keys in the contract's order, additions last; seconds rounded to milliseconds so output is
// stable. Strings that are not valid UTF-8 (process names and symbols are arbitrary bytes) have the
// bad bytes replaced by U+FFFD rather than failing the report.
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cwtrace/render.h"

namespace cwtrace {
namespace {

using Json = nlohmann::ordered_json;

// Seconds rounded to milliseconds; negative or non-finite values (never expected) become 0.
double seconds(double s) { return std::isfinite(s) && s > 0 ? std::round(s * 1000) / 1000 : 0.0; }

// Sums of sub-millisecond durations need microseconds.
double micros(double s) { return std::isfinite(s) && s > 0 ? std::round(s * 1e6) / 1e6 : 0.0; }

template <class T>
Json nullable(const std::optional<T>& v) {
    return v ? Json(*v) : Json(nullptr);
}

Json endpoint(const Endpoint& e) {
    Json j = Json::object();
    j["addr"] = e.addr;
    j["port"] = e.port;
    return j;
}

Json frames(const std::vector<Frame>& stack, bool with_module) {
    Json out = Json::array();
    for (const auto& f : stack) {
        Json j = Json::object();
        j["function"] = f.function;
        if (with_module) j["module"] = f.module;
        // Additions to the contract: the source position where known (interpreted code, native
        // code with debug info).
        if (!f.file.empty()) j["file"] = f.file;
        if (f.line) j["line"] = *f.line;
        out.push_back(std::move(j));
    }
    return out;
}

// The thread that opened (Origin) or closed (Closer) a socket, and its stacks.
template <class Thread>
Json thread_with_stacks(const Thread& t) {
    Json j = Json::object();
    j["kind"] = to_string(t.kind);
    j["pid"] = nullable(t.pid);
    j["tid"] = nullable(t.tid);
    j["comm"] = nullable(t.comm);
    j["user_stack"] = frames(t.user_stack, true);
    j["kernel_stack"] = frames(t.kernel_stack, false);
    return j;
}

Json origin(const Origin& o) { return thread_with_stacks(o); }

Json owner(const OwnerDetails& d) {
    Json j = Json::object();
    j["cmdline"] = d.cmdline;
    j["pid_in_namespace"] = nullable(d.pid_in_namespace);
    j["cgroup"] = d.cgroup;
    j["container_id"] = nullable(d.container_id);
    return j;
}

Json socket(const SocketEntry& s) {
    Json j = Json::object();
    j["pid"] = nullable(s.pid);
    j["comm"] = nullable(s.comm);
    j["family"] = s.inet6 ? "inet6" : "inet";
    j["local"] = endpoint(s.local);
    j["remote"] = endpoint(s.remote);
    j["close_wait_seconds"] = seconds(s.close_wait_seconds);
    j["before_start"] = s.before_start;
    j["origin"] = origin(s.origin);
    // Additions to the contract: what sock_diag and /proc say of the socket and its owner.
    j["age_estimate_seconds"] =
        s.age_estimate_seconds ? Json(seconds(*s.age_estimate_seconds)) : Json(nullptr);
    j["recv_q"] = nullable(s.recv_q);
    j["send_q"] = nullable(s.send_q);
    j["diagnosis"] = to_string(s.diagnosis);
    j["owner"] = s.owner ? owner(*s.owner) : Json(nullptr);
    return j;
}

Json closer(const Closer& c) { return thread_with_stacks(c); }

Json late_close(const LateClose& s) {
    Json j = Json::object();
    j["pid"] = nullable(s.pid);
    j["comm"] = nullable(s.comm);
    j["family"] = s.inet6 ? "inet6" : "inet";
    j["local"] = endpoint(s.local);
    j["remote"] = endpoint(s.remote);
    j["close_wait_seconds"] = seconds(s.close_wait_seconds);
    j["before_start"] = s.before_start;
    Json c = Json::object();
    c["pid"] = nullable(s.closer_pid);
    c["tid"] = nullable(s.closer_tid);
    c["comm"] = nullable(s.closer_comm);
    j["closer"] = std::move(c);
    return j;
}

Json late_close_group(const LateCloseGroup& g) {
    Json j = Json::object();
    j["count"] = g.count;
    j["total_close_wait_seconds"] = seconds(g.total_seconds);
    j["max_close_wait_seconds"] = seconds(g.max_seconds);
    j["other"] = g.other;
    j["opening"] = origin(g.opening);
    j["closing"] = closer(g.closing);
    j["sockets"] = Json::array();
    for (const auto& s : g.sockets) j["sockets"].push_back(late_close(s));
    return j;
}

// Bucket bounds in whole microseconds (powers of two), exact; the last bucket has no upper one.
Json durations(const CloseWaitDurations& d) {
    Json j = Json::object();
    j["count"] = d.count;
    j["total_close_wait_seconds"] = micros(d.total_seconds);
    j["other"] = d.other;
    j["opening"] = origin(d.opening);
    j["buckets"] = Json::array();
    for (const auto& b : d.buckets) {
        Json bucket = Json::object();
        bucket["lower_us"] = static_cast<uint64_t>(std::llround(b.lower_seconds * 1e6));
        bucket["upper_us"] = std::isfinite(b.upper_seconds)
                                 ? Json(static_cast<uint64_t>(std::llround(b.upper_seconds * 1e6)))
                                 : Json(nullptr);
        bucket["count"] = b.count;
        j["buckets"].push_back(std::move(bucket));
    }
    return j;
}

Json stats(const Stats& st) {
    Json lost = Json::object();
    lost["ringbuf_full"] = st.ringbuf_full;
    lost["origin_map_full"] = st.origin_map_full;
    lost["stacks_lost"] = st.stacks_lost;
    lost["accept_unresolved"] = st.accept_unresolved;
    lost["recursion_misses"] = st.recursion_misses;
    lost["decode_errors"] = st.decode_errors;
    lost["python_stacks_lost"] = st.python_stacks_lost;
    Json j = Json::object();
    j["events"] = st.events;
    j["lost_events"] = st.lost_events;
    j["lost"] = std::move(lost);  // addition to the contract: the losses by cause
    j["python_native_threads"] = st.python_native_threads;  // addition: not a loss
    return j;
}

}  // namespace

std::string render_json(const Report& report, const ReportContext& context) {
    // The document is written piece by piece: a tree of 100,000 sockets would cost several times
    // the memory of its text.
    auto text = [](const Json& j) {
        return j.dump(-1, ' ', false, Json::error_handler_t::replace);
    };
    Json head = Json::object();
    head["schema"] = "cwtrace.report/1";
    head["min_age_seconds"] = seconds(report.min_age_seconds);
    head["tracing_seconds"] = seconds(report.tracing_seconds);
    std::string out = text(head);
    out.pop_back();  // the closing brace: more members follow
    out += ",\"sockets\":[";
    for (size_t i = 0; i < report.sockets.size(); ++i) {
        if (i) out += ',';
        out += text(socket(report.sockets[i]));
    }
    out += "],\"stats\":" + text(stats(report.stats));
    // Additions (issue 9): sockets that left CLOSE_WAIT during the run.
    Json late = Json::array();
    for (const auto& g : report.late_closes) late.push_back(late_close_group(g));
    out += ",\"late_closes\":" + text(late);
    Json durations_json = Json::array();
    for (const auto& d : report.close_wait_durations) durations_json.push_back(durations(d));
    out += ",\"close_wait_durations\":" + text(durations_json);
    if (!context.host.empty())
        out += ",\"host\":" + text(Json(context.host));  // where it was taken
    out += "}\n";
    return out;
}

}  // namespace cwtrace
