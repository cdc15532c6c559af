#include "report/report_reader.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "util/display.h"
#include "util/untrusted_file.h"

namespace cwtrace {
namespace {

using Json = nlohmann::json;

// More frames than any stack cwtrace captures (127 user + kernel), with room to spare; a bound
// so that a crafted file cannot make the renderers recurse without limit.
constexpr size_t kMaxFrames = 1024;
constexpr size_t kMaxBuckets = 64;    // a log2 histogram has 41
constexpr size_t kMaxSamples = 1024;  // sockets listed per late-close group (cwtrace keeps 5)

// A field that is missing or has the wrong type or range; thrown inside this file only and
// returned from read_report as an Error.
struct BadField {
    std::string message;
};

// A field of the document and its path, for messages ("sockets[3].origin.pid").
class Field {
  public:
    Field(const Json& j, std::string path) : j_(j), path_(std::move(path)) {}

    Field operator[](const char* key) const {
        const Json& obj = object();
        auto it = obj.find(key);
        if (it == obj.end()) fail_at(join(key), "missing");
        return {*it, join(key)};
    }
    bool has(const char* key) const { return object().contains(key); }

    const Json& object() const {
        if (!j_.is_object()) fail("expected an object");
        return j_;
    }
    std::vector<Field> array(size_t max = std::numeric_limits<size_t>::max()) const {
        if (!j_.is_array()) fail("expected an array");
        if (j_.size() > max) fail("more than " + std::to_string(max) + " entries");
        std::vector<Field> items;
        items.reserve(j_.size());
        for (size_t i = 0; i < j_.size(); ++i)
            items.emplace_back(j_[i], path_ + "[" + std::to_string(i) + "]");
        return items;
    }
    std::string string() const {
        if (!j_.is_string()) fail("expected a string");
        return j_.get<std::string>();
    }
    bool boolean() const {
        if (!j_.is_boolean()) fail("expected true or false");
        return j_.get<bool>();
    }
    uint64_t unsigned_int(uint64_t max = std::numeric_limits<uint64_t>::max()) const {
        if (!j_.is_number_unsigned() || j_.get<uint64_t>() > max)
            fail("expected an integer from 0 to " + std::to_string(max));
        return j_.get<uint64_t>();
    }
    double seconds() const {
        if (!j_.is_number() || !std::isfinite(j_.get<double>()) || j_.get<double>() < 0)
            fail("expected a number of seconds >= 0");
        return j_.get<double>();
    }
    bool is_null() const { return j_.is_null(); }

    [[noreturn]] void fail(const std::string& why) const { fail_at(path_, why); }

  private:
    std::string join(const char* key) const { return path_.empty() ? key : path_ + "." + key; }
    [[noreturn]] static void fail_at(const std::string& path, const std::string& why) {
        throw BadField{path + ": " + why};
    }

    const Json& j_;
    std::string path_;
};

std::optional<uint32_t> nullable_u32(const Field& f) {
    if (f.is_null()) return std::nullopt;
    return static_cast<uint32_t>(f.unsigned_int(std::numeric_limits<uint32_t>::max()));
}

std::optional<std::string> nullable_string(const Field& f) {
    if (f.is_null()) return std::nullopt;
    return f.string();
}

Endpoint endpoint(const Field& f) {
    const Field addr = f["addr"];
    auto e = Endpoint::parse(addr.string(), static_cast<uint16_t>(f["port"].unsigned_int(65535)));
    if (!e) addr.fail("expected an IPv4 or IPv6 address");
    return *e;
}

// A GNU build id (or a Go one: 83 bytes) as hex: what a debuginfod URL is made of, so nothing
// else passes.
std::string build_id(const Field& f) {
    std::string id = f.string();
    const bool hex = std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    });
    if (id.empty() || id.size() > 256 || !hex) f.fail("expected a build id in lower-case hex");
    return id;
}

std::vector<Frame> frames(const Field& f, bool with_module) {
    std::vector<Frame> out;
    for (const auto& item : f.array(kMaxFrames)) {
        out.push_back({item["function"].string(), with_module ? item["module"].string() : ""});
        if (item.has("file")) out.back().file = item["file"].string();
        if (item.has("line"))
            out.back().line = static_cast<int>(item["line"].unsigned_int(INT32_MAX));
        // Additions: where the frame's code is (model/report.h's Frame).
        for (auto [name, field] : {std::pair{"address", &Frame::address},
                                   std::pair{"file_offset", &Frame::file_offset}}) {
            if (!item.has(name)) continue;
            const Field value = item[name];
            out.back().*field = parse_address(value.string());
            if (!(out.back().*field)) value.fail("expected \"0x\" and 1 to 16 hex digits");
        }
        if (item.has("build_id")) out.back().build_id = build_id(item["build_id"]);
        if (item.has("creator"))
            out.back().creator = static_cast<uint8_t>(item["creator"].unsigned_int(255));
    }
    return out;
}

// The enumerator whose report name (to_string) a string field holds; the error lists the names
// in the order given.
template <typename E>
E named(const Field& f, std::initializer_list<E> values) {
    const std::string name = f.string();
    std::string expected;
    for (size_t i = 0; i < values.size(); ++i) {
        const E value = values.begin()[i];
        if (name == to_string(value)) return value;
        if (i) expected += i + 1 == values.size() ? " or " : ", ";
        expected += "\"" + std::string(to_string(value)) + "\"";
    }
    f.fail("expected " + expected);
}

// The fields an opener and a closer share, read after their "kind".
void read_thread(const Field& f, Thread& t) {
    t.pid = nullable_u32(f["pid"]);
    t.tid = nullable_u32(f["tid"]);
    t.comm = nullable_string(f["comm"]);
    t.user_stack = frames(f["user_stack"], true);
    t.kernel_stack = frames(f["kernel_stack"], false);
}

Origin origin(const Field& f) {
    Origin o;
    o.kind = named(f["kind"], {OriginKind::Connect, OriginKind::Accept, OriginKind::Unknown});
    read_thread(f, o);
    // An addition: an index that must name a frame of user_stack ("own" repeats that frame).
    if (f.has("own_frame") && !f["own_frame"].is_null()) {
        const Field own = f["own_frame"];
        if (o.user_stack.empty()) own.fail("no user_stack frame to name");
        o.own_frame = static_cast<uint32_t>(own.unsigned_int(o.user_stack.size() - 1));
    }
    return o;
}

OwnerDetails owner_details(const Field& f) {
    OwnerDetails d;
    d.cmdline = f["cmdline"].string();
    d.pid_in_namespace = nullable_u32(f["pid_in_namespace"]);
    d.cgroup = f["cgroup"].string();
    d.container_id = nullable_string(f["container_id"]);
    // Additions (Kubernetes names): absent from older reports.
    const auto optional = [&](const char* key) {
        return f.has(key) ? nullable_string(f[key]) : std::nullopt;
    };
    d.pod = optional("pod");
    d.namespace_name = optional("namespace");
    d.container = optional("container");
    d.pod_uid = optional("pod_uid");
    return d;
}

// Additions to the contract (sock_diag and /proc details): optional, null when unknown.
// Sockets of one path share one Origin in cwtrace's model, and those of one process one owner;
// the JSON repeats them for each socket. Each distinct one is read once, so that a report of a
// million sockets from a few paths holds a few (not a million copies of their frames).
class Interned {
  public:
    SharedOrigin origin_of(const Field& f) {
        auto [it, added] = origins_.try_emplace(f.object().dump());
        if (added) it->second = origin(f);
        return it->second;
    }
    std::shared_ptr<const OwnerDetails> owner_of(const Field& f) {
        auto [it, added] = owners_.try_emplace(f.object().dump());
        if (added) it->second = std::make_shared<const OwnerDetails>(owner_details(f));
        return it->second;
    }

  private:
    std::unordered_map<std::string, SharedOrigin> origins_;
    std::unordered_map<std::string, std::shared_ptr<const OwnerDetails>> owners_;
};

void read_additions(const Field& f, SocketEntry& s, Interned& interned) {
    const auto given = [&](const char* key) { return f.has(key) && !f[key].is_null(); };
    if (given("age_estimate_seconds")) s.age_estimate_seconds = f["age_estimate_seconds"].seconds();
    if (given("recv_q")) s.recv_q = nullable_u32(f["recv_q"]);
    if (given("send_q")) s.send_q = nullable_u32(f["send_q"]);
    if (given("diagnosis"))
        s.diagnosis = named(f["diagnosis"], {Diagnosis::UnreadData, Diagnosis::EofNotRead,
                                             Diagnosis::EofReadNotClosed, Diagnosis::Unknown});
    if (given("owner")) s.owner = interned.owner_of(f["owner"]);
    if (given("accepted")) s.accepted = f["accepted"].boolean();
}

SocketEntry socket(const Field& f, Interned& interned) {
    SocketEntry s;
    s.pid = nullable_u32(f["pid"]);
    s.comm = nullable_string(f["comm"]);
    const Field family = f["family"];
    const std::string fam = family.string();
    if (fam != "inet" && fam != "inet6") family.fail("expected \"inet\" or \"inet6\"");
    s.inet6 = fam == "inet6";
    s.local = endpoint(f["local"]);
    s.remote = endpoint(f["remote"]);
    s.close_wait_seconds = f["close_wait_seconds"].seconds();
    s.before_start = f["before_start"].boolean();
    s.origin = interned.origin_of(f["origin"]);
    read_additions(f, s, interned);
    return s;
}

Closer closer(const Field& f) {
    Closer c;
    c.kind = named(f["kind"], {CloseKind::Close, CloseKind::Reset, CloseKind::Exit,
                               CloseKind::Kernel, CloseKind::Unknown});
    read_thread(f, c);
    return c;
}

bool inet6_family(const Field& family) {
    const std::string fam = family.string();
    if (fam != "inet" && fam != "inet6") family.fail("expected \"inet\" or \"inet6\"");
    return fam == "inet6";
}

LateClose late_close(const Field& f) {
    LateClose s;
    s.pid = nullable_u32(f["pid"]);
    s.comm = nullable_string(f["comm"]);
    s.inet6 = inet6_family(f["family"]);
    s.local = endpoint(f["local"]);
    s.remote = endpoint(f["remote"]);
    s.close_wait_seconds = f["close_wait_seconds"].seconds();
    s.before_start = f["before_start"].boolean();
    const Field c = f["closer"];
    s.closer_pid = nullable_u32(c["pid"]);
    s.closer_tid = nullable_u32(c["tid"]);
    s.closer_comm = nullable_string(c["comm"]);
    return s;
}

LateCloseGroup late_close_group(const Field& f) {
    LateCloseGroup g;
    g.count = f["count"].unsigned_int();
    g.total_seconds = f["total_close_wait_seconds"].seconds();
    g.max_seconds = f["max_close_wait_seconds"].seconds();
    g.other = f["other"].boolean();
    g.opening = origin(f["opening"]);
    g.closing = closer(f["closing"]);
    for (const auto& s : f["sockets"].array(kMaxSamples)) g.sockets.push_back(late_close(s));
    return g;
}

CloseWaitDurations durations(const Field& f) {
    CloseWaitDurations d;
    d.count = f["count"].unsigned_int();
    d.total_seconds = f["total_close_wait_seconds"].seconds();
    d.other = f["other"].boolean();
    d.opening = origin(f["opening"]);
    for (const auto& b : f["buckets"].array(kMaxBuckets)) {
        DurationBucket bucket;
        bucket.lower_seconds = static_cast<double>(b["lower_us"].unsigned_int()) / 1e6;
        const Field upper = b["upper_us"];
        bucket.upper_seconds =
            upper.is_null() ? INFINITY : static_cast<double>(upper.unsigned_int()) / 1e6;
        bucket.count = b["count"].unsigned_int();
        d.buckets.push_back(bucket);
    }
    return d;
}

Stats stats(const Field& f) {
    Stats st;
    st.events = f["events"].unsigned_int();
    st.lost_events = f["lost_events"].unsigned_int();
    if (!f.has("lost")) return st;  // an addition to the contract: optional
    const Field lost = f["lost"];
    for (const auto& [key, count] : kLossCauses)
        if (lost.has(key)) st.*count = lost[key].unsigned_int();
    if (f.has("python_native_threads"))
        st.python_native_threads = f["python_native_threads"].unsigned_int();
    if (f.has("files_refused")) {  // only the causes cwtrace writes, in its order
        const Field refused = f["files_refused"];
        for (size_t i = 1; i < kRefusalKinds; ++i) {
            const std::string cause(key_of(static_cast<Refusal>(i)));
            if (refused.has(cause.c_str()))
                st.files_refused.emplace_back(cause, refused[cause.c_str()].unsigned_int());
        }
    }
    if (f.has("stacks_recycled")) st.stacks_recycled = f["stacks_recycled"].unsigned_int();
    if (f.has("stale_stacks")) st.stale_stacks = f["stale_stacks"].unsigned_int();
    if (f.has("origin_map_entries")) st.origin_map_entries = f["origin_map_entries"].unsigned_int();
    if (f.has("stack_copies_lost")) st.stack_copies_lost = f["stack_copies_lost"].unsigned_int();
    return st;
}

// `sockets`: the document's "sockets", read while it was parsed (see StreamingParse).
SavedReport saved_report(const Json& j, std::vector<SocketEntry> sockets) {
    const Field doc(j, "");
    doc.object();
    const Field schema = doc["schema"];
    if (schema.string() != "cwtrace.report/1")
        schema.fail("unsupported schema '" + display_safe(schema.string()) +
                    "' (this cwtrace reads cwtrace.report/1)");
    SavedReport saved;
    Report& r = saved.report;
    r.min_age_seconds = doc["min_age_seconds"].seconds();
    r.tracing_seconds = doc["tracing_seconds"].seconds();
    Interned interned;
    for (const auto& s : doc["sockets"].array())  // none left
        r.sockets.push_back(socket(s, interned));
    r.sockets.insert(r.sockets.begin(), std::make_move_iterator(sockets.begin()),
                     std::make_move_iterator(sockets.end()));
    r.stats = stats(doc["stats"]);
    if (doc.has("host")) saved.context.host = doc["host"].string();
    // Additions: optional, absent from reports of earlier versions.
    if (doc.has("late_closes"))
        for (const auto& g : doc["late_closes"].array())
            r.late_closes.push_back(late_close_group(g));
    if (doc.has("close_wait_durations"))
        for (const auto& d : doc["close_wait_durations"].array())
            r.close_wait_durations.push_back(durations(d));
    return saved;
}

// nlohmann's message without its "[json.exception.parse_error.101] " prefix.
std::string parse_problem(const std::exception& e) {
    std::string what = e.what();
    const size_t end = what.find("] ");
    if (what.starts_with("[json.exception") && end != std::string::npos) what.erase(0, end + 2);
    return "not valid JSON: " + what;
}

// One document parsed with each element of its "sockets" array read into a SocketEntry as soon
// as it is complete, its JSON dropped: the whole document as nlohmann's tree took ~9 times the
// file (issue 25: 1.8 GB for 200 MB), and the sockets are nearly all of a large report.
struct Parsed {
    Json doc;  // without the sockets
    std::vector<SocketEntry> sockets;
};

// Throws Json::exception (not JSON) or BadField (a socket that is not one).
Parsed parse_streaming(std::string_view text) {
    using Event = Json::parse_event_t;
    Parsed parsed;
    std::string key;  // the top-level key being read
    bool in_sockets = false;
    Interned interned;
    auto read_socket = [&](int depth, Event event, Json& value) {
        if (depth == 1 && event == Event::key) key = value.get<std::string>();
        if (depth == 1 && (event == Event::array_start || event == Event::array_end))
            in_sockets = event == Event::array_start && key == "sockets";
        if (!in_sockets || depth != 2 || event == Event::object_start ||
            event == Event::array_start)
            return true;
        const Field at(value, "sockets[" + std::to_string(parsed.sockets.size()) + "]");
        if (event != Event::object_end) at.fail("expected an object");
        parsed.sockets.push_back(socket(at, interned));
        return false;  // dropped from the tree
    };
    parsed.doc = Json::parse(text, read_socket);
    return parsed;
}

// JSON Lines: every non-blank line a document; nullopt if any line is not one.
std::optional<Parsed> last_of_json_lines(std::string_view text) {
    std::optional<Parsed> last;
    std::optional<BadField> last_bad;  // only the last line's matters
    size_t lines = 0;
    for (size_t i = 0; i < text.size();) {
        const size_t end = std::min(text.find('\n', i), text.size());
        const std::string_view line = text.substr(i, end - i);
        i = end + 1;
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
        last.reset();  // one line's sockets at a time
        last_bad.reset();
        try {
            last = parse_streaming(line);
        } catch (const Json::exception&) {
            return std::nullopt;
        } catch (const BadField& bad) {
            last_bad = bad;
        }
        ++lines;
    }
    if (lines <= 1) return std::nullopt;
    if (last_bad) throw *last_bad;
    return last;
}

}  // namespace

Result<SavedReport> read_report(std::string_view text) {
    try {
        std::optional<Parsed> parsed;
        try {
            parsed = parse_streaming(text);
        } catch (const Json::exception& e) {  // parse_error; out_of_range for 1e999
            parsed.reset();
            parsed = last_of_json_lines(text);
            if (!parsed) return Error{display_safe(parse_problem(e)), ""};
        }
        return saved_report(parsed->doc, std::move(parsed->sockets));
    } catch (const BadField& bad) {
        return Error{display_safe(bad.message), ""};
    }
}

}  // namespace cwtrace
