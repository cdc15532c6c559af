// JSON report, schema "cwtrace.report/1" (docs/report.md, docs/report.schema.json): one document
// on one line. Keys in the contract's order, additions last; seconds rounded to milliseconds so
// output is stable. Strings that are not valid UTF-8 (process names and symbols are arbitrary
// bytes) have the bad bytes replaced by U+FFFD rather than failing the report.
#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "render/render.h"
#include "report/runtime.h"

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
    j["addr"] = e.addr();
    j["port"] = e.port;
    return j;
}

Json frame(const Frame& f, bool with_module) {
    Json j = Json::object();
    j["function"] = f.function;
    if (with_module) j["module"] = f.module;
    // Additions to the contract: the source position where known (interpreted code, native
    // code with debug info).
    if (!f.file.empty()) j["file"] = f.file;
    if (f.line) j["line"] = *f.line;
    // And where its code is, for naming it later (model/report.h's Frame).
    if (f.address) j["address"] = format_address(*f.address);
    if (f.file_offset) j["file_offset"] = format_address(*f.file_offset);
    if (!f.build_id.empty()) j["build_id"] = f.build_id;
    if (f.creator) j["creator"] = f.creator;  // Go: a creating goroutine's frame
    return j;
}

Json frames(const std::vector<Frame>& stack, bool with_module) {
    Json out = Json::array();
    for (const auto& f : stack) out.push_back(frame(f, with_module));
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

// An addition to the contract: the user's own frame, as an index into user_stack and repeated
// whole for consumers that read only the summary.
Json origin(const Origin& o) {
    Json j = thread_with_stacks(o);
    j["own_frame"] = nullable(o.own_frame);
    j["own"] = o.own() ? frame(*o.own(), true) : Json(nullptr);
    // Only when true: every other path (and every report before it) reads as before.
    if (opened_from_event_loop(o)) j["event_loop"] = true;
    return j;
}

// The per-socket part, written straight as text: a million sockets through a JSON tree cost
// ~10 us each. The same bytes as the tree's dump (the golden files hold both to it).
}  // namespace

void append_json_double(std::string& out, double d) {
    // What the library's serializer does for a double (dump_float), without building a value
    // and a string per number: its own Grisu2 formatting into a buffer of the same size.
    if (!std::isfinite(d)) {
        out += "null";
        return;
    }
    std::array<char, 64> buf{};
    char* end = nlohmann::detail::to_chars(buf.data(), buf.data() + buf.size(), d);
    out.append(buf.data(), static_cast<size_t>(end - buf.data()));
}

namespace {

// Keys are written with their punctuation as one literal (`,"comm":`): the members of each object
// come in a fixed order, so where the commas go is known here, not looked up in the output.
class SocketWriter {
  public:
    explicit SocketWriter(std::string& out) : out_(out) {}

    void socket(const SocketEntry& s) {
        raw("{\"pid\":");
        number(s.pid);
        raw(",\"comm\":");
        nullable_string(s.comm);
        raw(s.inet6 ? ",\"family\":\"inet6\",\"local\":" : ",\"family\":\"inet\",\"local\":");
        endpoint(s.local);
        raw(",\"remote\":");
        endpoint(s.remote);
        raw(",\"close_wait_seconds\":");
        real(seconds(s.close_wait_seconds));
        raw(s.before_start ? ",\"before_start\":true,\"origin\":"
                           : ",\"before_start\":false,\"origin\":");
        shared_origin(s.origin);
        raw(",\"age_estimate_seconds\":");
        if (s.age_estimate_seconds)
            real(seconds(*s.age_estimate_seconds));
        else
            null();
        raw(",\"recv_q\":");
        number(s.recv_q);
        raw(",\"send_q\":");
        number(s.send_q);
        raw(",\"diagnosis\":");
        string(to_string(s.diagnosis));
        raw(",\"owner\":");
        if (s.owner)
            owner(*s.owner);
        else
            null();
        raw(",\"accepted\":");
        if (s.accepted)
            boolean(*s.accepted);
        else
            null();
        out_ += '}';
    }

  private:
    void raw(std::string_view text) { out_.append(text.data(), text.size()); }
    void null() { raw("null"); }
    void boolean(bool b) { raw(b ? "true" : "false"); }
    template <class Int>
    void number(Int n) {
        char buf[24];
        out_.append(buf, std::to_chars(buf, buf + sizeof buf, n).ptr);
    }
    template <class Int>
    void number(const std::optional<Int>& n) {
        if (n)
            number(*n);
        else
            null();
    }
    void real(double d) { append_json_double(out_, d); }
    // Plain ASCII goes as it is; anything that needs escaping or checking as UTF-8 goes through
    // the library, so bad bytes are replaced exactly as elsewhere.
    void string(std::string_view text) {
        const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
            return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
        });
        if (!plain) {
            out_ += Json(std::string(text)).dump(-1, ' ', false, Json::error_handler_t::replace);
            return;
        }
        const size_t at = out_.size();
        out_.resize(at + text.size() + 2);
        char* p = out_.data() + at;
        *p++ = '"';
        std::memcpy(p, text.data(), text.size());
        p[text.size()] = '"';
    }
    void nullable_string(const std::optional<std::string>& text) {
        if (text)
            string(*text);
        else
            null();
    }
    void endpoint(const Endpoint& e) {
        raw("{\"addr\":");
        string(e.addr());
        raw(",\"port\":");
        number(e.port);
        out_ += '}';
    }
    void frame(const Frame& f, bool with_module) {
        raw("{\"function\":");
        string(f.function);
        if (with_module) {
            raw(",\"module\":");
            string(f.module);
        }
        if (!f.file.empty()) {
            raw(",\"file\":");
            string(f.file);
        }
        if (f.line) {
            raw(",\"line\":");
            number(*f.line);
        }
        if (f.address) {
            raw(",\"address\":");
            string(format_address(*f.address));
        }
        if (f.file_offset) {
            raw(",\"file_offset\":");
            string(format_address(*f.file_offset));
        }
        if (!f.build_id.empty()) {
            raw(",\"build_id\":");
            string(f.build_id);
        }
        if (f.creator) {
            raw(",\"creator\":");
            number(f.creator);
        }
        out_ += '}';
    }
    void frames(const std::vector<Frame>& stack, bool with_module) {
        out_ += '[';
        for (size_t i = 0; i < stack.size(); ++i) {
            if (i) out_ += ',';
            frame(stack[i], with_module);
        }
        out_ += ']';
    }
    void origin(const Origin& o) {
        raw("{\"kind\":");
        string(to_string(o.kind));
        raw(",\"pid\":");
        number(o.pid);
        raw(",\"tid\":");
        number(o.tid);
        raw(",\"comm\":");
        nullable_string(o.comm);
        raw(",\"user_stack\":");
        frames(o.user_stack, true);
        raw(",\"kernel_stack\":");
        frames(o.kernel_stack, false);
        raw(",\"own_frame\":");
        number(o.own_frame);
        raw(",\"own\":");
        if (o.own())
            frame(*o.own(), true);
        else
            null();
        if (opened_from_event_loop(o)) raw(",\"event_loop\":true");
        out_ += '}';
    }
    // Shared by the sockets one thread opened from one path (a million sockets, a few paths):
    // written once, up to a bound on what is kept (as many paths as sockets would double the
    // report's text in memory).
    void shared_origin(const Origin& o) {
        auto known = origins_.find(&o);
        if (known != origins_.end()) {
            out_ += known->second;
            return;
        }
        const size_t at = out_.size();
        origin(o);
        if (origins_bytes_ >= kOriginsKeptBytes) return;
        origins_bytes_ += out_.size() - at;
        origins_.emplace(&o, out_.substr(at));
    }
    // Shared by the sockets of a process (a million sockets, a few owners): written once.
    void owner(const OwnerDetails& d) {
        auto [it, fresh] = owners_.try_emplace(&d);
        if (fresh) SocketWriter(it->second).owner_object(d);
        out_ += it->second;
    }
    void owner_object(const OwnerDetails& d) {
        raw("{\"cmdline\":");
        string(d.cmdline);
        raw(",\"pid_in_namespace\":");
        number(d.pid_in_namespace);
        raw(",\"cgroup\":");
        string(d.cgroup);
        raw(",\"container_id\":");
        nullable_string(d.container_id);
        raw(",\"pod\":");
        nullable_string(d.pod);
        raw(",\"namespace\":");
        nullable_string(d.namespace_name);
        raw(",\"container\":");
        nullable_string(d.container);
        raw(",\"pod_uid\":");
        nullable_string(d.pod_uid);
        out_ += '}';
    }

    static constexpr size_t kOriginsKeptBytes = 16 << 20;

    std::string& out_;
    std::unordered_map<const OwnerDetails*, std::string> owners_;
    std::unordered_map<const Origin*, std::string> origins_;
    size_t origins_bytes_ = 0;
};

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
    for (const auto& [cause, count] : kLossCauses) lost[cause] = st.*count;
    Json j = Json::object();
    j["events"] = st.events;
    j["lost_events"] = st.lost_events;
    j["lost"] = std::move(lost);  // addition to the contract: the losses by cause
    j["python_native_threads"] = st.python_native_threads;  // addition: not a loss
    // Additions: names lost, not events (model/report.h).
    Json refused = Json::object();
    for (const auto& [cause, n] : st.files_refused) refused[cause] = n;
    j["files_refused"] = std::move(refused);
    j["stacks_recycled"] = st.stacks_recycled;
    j["stale_stacks"] = st.stale_stacks;
    if (st.origin_map_entries)  // addition: the size origin_map_full hit
        j["origin_map_entries"] = st.origin_map_entries;
    j["stack_copies_lost"] = st.stack_copies_lost;  // addition: the copies' part of stacks_lost
    return j;
}

}  // namespace

bool render_json(const Report& report, const ReportContext& context, const ReportSink& sink) {
    // The document is written piece by piece: a tree of 100,000 sockets would cost several times
    // the memory of its text, and the text of a million is handed on in pieces.
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
    constexpr size_t kPiece = 1 << 16;
    SocketWriter writer(out);
    for (size_t i = 0; i < report.sockets.size(); ++i) {
        if (i) out += ',';
        writer.socket(report.sockets[i]);
        if (out.size() >= kPiece) {
            if (!sink(out)) return false;
            out.clear();
        }
    }
    out += "],\"stats\":" + text(stats(report.stats));
    // Additions: sockets that left CLOSE_WAIT during the run.
    Json late = Json::array();
    for (const auto& g : report.late_closes) late.push_back(late_close_group(g));
    out += ",\"late_closes\":" + text(late);
    Json durations_json = Json::array();
    for (const auto& d : report.close_wait_durations) durations_json.push_back(durations(d));
    out += ",\"close_wait_durations\":" + text(durations_json);
    if (!context.host.empty())
        out += ",\"host\":" + text(Json(context.host));  // where it was taken
    out += "}\n";
    return sink(out);
}

std::string render_json(const Report& report, const ReportContext& context) {
    std::string out;
    render_json(report, context, [&](std::string_view piece) {
        out += piece;
        return true;
    });
    return out;
}

}  // namespace cwtrace
