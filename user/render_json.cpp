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
        if (f.file) j["file"] = *f.file;
        if (f.line) j["line"] = *f.line;
        out.push_back(std::move(j));
    }
    return out;
}

Json origin(const Origin& o) {
    Json j = Json::object();
    j["kind"] = to_string(o.kind);
    j["pid"] = nullable(o.pid);
    j["tid"] = nullable(o.tid);
    j["comm"] = nullable(o.comm);
    j["user_stack"] = frames(o.user_stack, true);
    j["kernel_stack"] = frames(o.kernel_stack, false);
    return j;
}

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

Json stats(const Stats& st) {
    Json lost = Json::object();
    lost["ringbuf_full"] = st.ringbuf_full;
    lost["origin_map_full"] = st.origin_map_full;
    lost["stacks_lost"] = st.stacks_lost;
    lost["accept_unresolved"] = st.accept_unresolved;
    lost["recursion_misses"] = st.recursion_misses;
    lost["decode_errors"] = st.decode_errors;
    Json j = Json::object();
    j["events"] = st.events;
    j["lost_events"] = st.lost_events;
    j["lost"] = std::move(lost);  // addition to the contract: the losses by cause
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
    if (!context.host.empty())
        out += ",\"host\":" + text(Json(context.host));  // where it was taken
    out += "}\n";
    return out;
}

}  // namespace cwtrace
