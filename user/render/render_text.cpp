// Text report for a person at a terminal: the biggest leaking code path first, its count, oldest
// and median age, owners, most common remote endpoints, why the sockets are stuck (diagnosis) and
// opening stack. Sockets whose opening path is unknown (already in CLOSE_WAIT at start) are grouped
// by who holds them and where they lead instead: "N sockets held by pid P (cmd) to REMOTE:PORT".
// Every line fits in 80 columns (counted in code points); names too long for that are shortened in
// the middle with "…" (the JSON report keeps them whole). Untrusted strings (process names,
// symbols, paths) are made terminal-safe: control characters, bidi overrides and invalid UTF-8 are
// shown as \xNN escapes.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "render/render.h"
#include "report/opening_paths.h"
#include "util/display.h"
#include "util/net_format.h"

namespace cwtrace {
namespace {

constexpr size_t kWidth = 80;
constexpr size_t kMaxOwners = 5;              // owners listed by name; the rest are counted
constexpr size_t kMaxRemotes = 3;             // the most common remote endpoints listed
constexpr size_t kMaxSocketsListed = 10;      // a group with more sockets is summarized...
constexpr size_t kSocketsWhenSummarized = 5;  // ...by its oldest few and a count
constexpr size_t kMaxAddrColumn = 23;         // wider addresses overflow their column
constexpr size_t kMaxCmdline = 48;            // a holder's command line in a group title
constexpr uint16_t kEphemeralPorts = 32768;   // Linux's default ip_local_port_range starts here
const std::string kStackIndent = "      ";
const std::string kSocketIndent = "      ";

// ---- Terminal-safe strings (display.h), measured in code points ----

// Display width of clean text: one column per code point.
size_t width(std::string_view s) {
    return std::count_if(s.begin(), s.end(),
                         [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

// Clean text shortened to at most max columns by replacing its middle with "…".
std::string shorten(const std::string& s, size_t max) {
    if (width(s) <= max) return s;
    if (max == 0) return "";
    std::vector<size_t> starts;  // byte offset of each code point
    for (size_t i = 0; i < s.size(); ++i)
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) starts.push_back(i);
    const size_t head = max / 2, tail = max - 1 - head;
    return s.substr(0, starts[head]) + "…" + (tail ? s.substr(starts[starts.size() - tail]) : "");
}

std::string pad_right(const std::string& s, size_t w) {
    return s + std::string(w - std::min(w, width(s)), ' ');
}

std::string pad_left(const std::string& s, size_t w) {
    return std::string(w - std::min(w, width(s)), ' ') + s;
}

// Greedy wrap: the words joined by sep, the first line indented by indent, later ones by cont;
// a word too long for a line of its own is shortened.
std::string wrap(const std::string& indent, const std::string& cont,
                 const std::vector<std::string>& words, const std::string& sep = " ") {
    std::string out, line = indent;
    bool line_empty = true;
    for (const auto& w : words) {
        if (!line_empty && width(line) + sep.size() + width(w) > kWidth) {
            out += line + "\n";
            line = cont;
            line_empty = true;
        }
        if (!line_empty) line += sep;
        line += shorten(w, kWidth - width(line));
        line_empty = false;
    }
    return out + line + "\n";
}

std::vector<std::string> split_words(const std::string& s) {
    std::vector<std::string> words;
    for (size_t i = 0, j; i < s.size(); i = j + 1) {
        j = std::min(s.find(' ', i), s.size());
        if (j > i) words.push_back(s.substr(i, j - i));
    }
    return words;
}

// ---- Values ----

// The best age known: the estimate for a socket found at start, else the traced age.
double age_of(const SocketEntry& s) {
    const double age = s.age_estimate_seconds.value_or(s.close_wait_seconds);
    return std::isfinite(age) && age > 0 ? age : 0;
}

// "~" marks an estimate, ">" a lower bound (already in CLOSE_WAIT when tracing began, no estimate).
const char* age_mark(const SocketEntry& s) {
    if (s.age_estimate_seconds) return "~";
    return s.before_start ? ">" : "";
}

std::string age_text(const SocketEntry& s) { return age_mark(s) + human_duration(age_of(s)); }

// The oldest socket's age in a title: an estimate says so in words.
std::string oldest_text(const SocketEntry& s) {
    return age_text(s) + (s.age_estimate_seconds ? " (est.)" : "");
}

std::string owner(const SocketEntry& s) {
    if (!s.pid && !s.comm) return "unknown";
    return (s.comm ? display_safe(*s.comm) : "?") + "[" + (s.pid ? std::to_string(*s.pid) : "?") +
           "]";
}

std::string plural(uint64_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

// ---- Grouping by opening code path, or by holder for sockets of unknown origin ----

struct Group {
    const Origin* origin = nullptr;           // the opening path (of the first socket)
    std::vector<const SocketEntry*> sockets;  // oldest first
    bool held = false;         // origin unknown: grouped by holder and endpoint instead
    bool server_side = false;  // held sockets that look accepted: keyed by their local endpoint
};

bool origin_unknown(const Origin& o) {
    return o.kind == OriginKind::Unknown && o.user_stack.empty() && o.kernel_stack.empty();
}

// A holder and one endpoint of its socket, compared without building text: a million sockets go
// through here.
struct HeldKey {
    std::optional<uint32_t> pid;
    std::optional<std::string_view> comm;
    bool server = false;
    const Endpoint* endpoint;

    HeldKey(const SocketEntry& s, bool server_side, const Endpoint& e)
        : pid(s.pid), server(server_side), endpoint(&e) {
        if (s.comm) comm = *s.comm;
    }
    std::string_view address() const {
        return {reinterpret_cast<const char*>(endpoint->bytes), sizeof endpoint->bytes};
    }
    bool operator==(const HeldKey& o) const {
        return pid == o.pid && comm == o.comm && server == o.server &&
               endpoint->inet6 == o.endpoint->inet6 && endpoint->port == o.endpoint->port &&
               address() == o.address();
    }
};

struct HeldKeyHash {
    size_t operator()(const HeldKey& k) const {
        const std::hash<std::string_view> h;
        size_t seed = h(k.address()) * 31 + k.endpoint->port * 2 + k.endpoint->inet6;
        seed = seed * 31 + (k.pid ? *k.pid + 1ULL : 0);
        seed = seed * 31 + (k.comm ? h(*k.comm) : 0);
        return seed * 2 + k.server;
    }
};

// Sockets of unknown origin, split by holder, then by the endpoint that names the connection: an
// accepted socket's local endpoint (a listener's), a client's remote one. Where sock_diag could
// not say which side a socket is (no listener seen), a local endpoint several of the holder's
// sockets share, or a well-known local port talking to an ephemeral one, is taken for a
// server's. Groups come in the order of (holder, side, endpoint) as text.
std::vector<Group> split_by_holder(const PathGroup& path) {
    std::unordered_map<HeldKey, size_t, HeldKeyHash> locals;  // (holder, local) -> sockets
    for (const auto* s : path.sockets)
        if (!s->accepted) ++locals[HeldKey(*s, false, s->local)];
    std::unordered_map<HeldKey, size_t, HeldKeyHash> index;
    std::vector<Group> groups;
    for (const auto* s : path.sockets) {
        const bool server = s->accepted ? *s->accepted
                                        : locals[HeldKey(*s, false, s->local)] > 1 ||
                                              (s->local.port < kEphemeralPorts &&
                                               s->remote.port >= kEphemeralPorts);
        auto [it, added] =
            index.try_emplace(HeldKey(*s, server, server ? s->local : s->remote), groups.size());
        if (added) groups.push_back({path.origin, {}, true, server});
        groups[it->second].sockets.push_back(s);
    }
    using Order = std::tuple<std::string, bool, std::string>;
    std::vector<std::pair<Order, size_t>> order;
    for (size_t i = 0; i < groups.size(); ++i) {
        const SocketEntry& s = *groups[i].sockets.front();
        const Endpoint& e = groups[i].server_side ? s.local : s.remote;
        order.push_back({{owner(s), groups[i].server_side, format_endpoint(s.inet6, e)}, i});
    }
    std::sort(order.begin(), order.end());
    std::vector<Group> out;
    for (auto& [key, i] : order) out.push_back(std::move(groups[i]));
    return out;
}

// Largest group first; ties: oldest socket first, then by path (opening_paths.h's order).
std::vector<Group> group_sockets(const Report& r) {
    std::vector<Group> groups;
    for (const PathGroup& path : group_by_opening_path(r)) {
        if (!origin_unknown(*path.origin)) {
            groups.push_back({path.origin, path.sockets});
            continue;
        }
        for (Group& g : split_by_holder(path)) groups.push_back(std::move(g));
    }
    for (auto& g : groups)
        std::stable_sort(g.sockets.begin(), g.sockets.end(),
                         [](auto* a, auto* b) { return age_of(*a) > age_of(*b); });
    std::stable_sort(groups.begin(), groups.end(), [](const Group& a, const Group& b) {
        if (a.sockets.size() != b.sockets.size()) return a.sockets.size() > b.sockets.size();
        return age_of(*a.sockets.front()) > age_of(*b.sockets.front());
    });
    return groups;
}

// ---- Sections ----

std::string header(const Report& r) {
    return wrap(
        "", "         ",
        {"cwtrace:", "tracing " + human_setting(r.tracing_seconds) + ",",
         "min-age " + human_setting(r.min_age_seconds) + ",",
         plural(r.sockets.size(), "socket", "sockets") + " shown,",
         plural(r.stats.events, "event,", "events,"), std::to_string(r.stats.lost_events), "lost"});
}

std::string lost_warning(const Stats& st) {
    const std::pair<const char*, uint64_t> causes[] = {
        {"ring buffer full", st.ringbuf_full},
        {"origin map full", st.origin_map_full},
        {"stacks not captured", st.stacks_lost},
        {"accepts unresolved", st.accept_unresolved},
        {"BPF recursion misses", st.recursion_misses},
        {"decode errors", st.decode_errors},
        {"Python stacks not captured", st.python_stacks_lost}};
    uint64_t sum = 0;
    std::string detail;
    for (const auto& [name, n] : causes) {
        if (n == 0) continue;
        sum += n;
        detail += (detail.empty() ? " (" : ", ") + std::string(name) + ": " + std::to_string(n);
    }
    if (st.lost_events == 0 && sum == 0) return "";
    const uint64_t total = st.lost_events ? st.lost_events : sum;
    const std::string text = "WARNING: " + plural(total, "event", "events") + " lost" +
                             (detail.empty() ? "" : detail + ")") +
                             "; the report may be incomplete";
    return wrap("", "         ", split_words(text));
}

// The middle age of the group (sockets are oldest first), marked like the ages it rests on.
std::string median_age(const Group& g) {
    const auto& all = g.sockets;
    const size_t n = all.size();
    const SocketEntry& hi = *all[(n - 1) / 2];
    const SocketEntry& lo = *all[n / 2];
    const char* mark = *age_mark(hi) ? age_mark(hi) : age_mark(lo);
    return mark + human_duration((age_of(hi) + age_of(lo)) / 2);
}

std::string how_opened(const Origin& o) {
    return o.kind == OriginKind::Unknown ? "origin unknown"
                                         : std::string("opened by ") + to_string(o.kind) + "()";
}

// "pid 4242 (python3 crawler.py)": the command line when /proc gave one, else the comm.
std::string holder(const SocketEntry& s) {
    if (!s.pid) return s.comm ? owner(s) : "no process (still in a listen queue?)";
    std::string cmd =
        s.owner && !s.owner->cmdline.empty() ? s.owner->cmdline : s.comm.value_or("?");
    return "pid " + std::to_string(*s.pid) + " (" + shorten(display_safe(cmd), kMaxCmdline) + ")";
}

std::string group_title(size_t index, const Group& g) {
    const std::string number = "#" + std::to_string(index) + " ";
    const std::vector<std::string> ages = {"oldest", oldest_text(*g.sockets.front()) + ",",
                                           "median", median_age(g) + ","};
    if (!g.held) {
        std::vector<std::string> words = {number, plural(g.sockets.size(), "socket,", "sockets,")};
        words.insert(words.end(), ages.begin(), ages.end());
        words.push_back(how_opened(*g.origin));
        return wrap("", "    ", words);
    }
    const SocketEntry& first = *g.sockets.front();
    std::vector<std::string> words = {number, plural(g.sockets.size(), "socket", "sockets"), "held",
                                      "by"};
    for (const auto& w : split_words(holder(first))) words.push_back(w);
    if (g.server_side)
        words.insert(words.end(), {"from", g.sockets.size() == 1 ? "a client of" : "clients of",
                                   format_endpoint(first.inet6, first.local)});
    else
        words.insert(words.end(), {"to", format_endpoint(first.inet6, first.remote)});
    // The stack line below says the origin is unknown; one socket has no median.
    std::vector<std::string> second = ages;
    if (g.sockets.size() == 1) second.resize(2);
    second.back().pop_back();
    return wrap("", "    ", words) + wrap("    ", "    ", second);
}

// Where the holder runs, when it is not the host's view: "in container 3f2a1b4c5d6e as pid 7".
std::string container_line(const Group& g) {
    const SocketEntry& s = *g.sockets.front();
    if (!s.owner || (!s.owner->container_id && !s.owner->pid_in_namespace)) return "";
    std::vector<std::string> words = {"in"};
    if (s.owner->container_id)
        words.insert(words.end(),
                     {"container", display_safe(s.owner->container_id->substr(0, 12))});
    else
        words.insert(words.end(), {"its", "own", "pid", "namespace"});
    if (s.owner->pid_in_namespace)
        words.insert(words.end(), {"as", "pid", std::to_string(*s.owner->pid_in_namespace)});
    return wrap("    ", "    ", words);
}

// "why: 12 never read to the end, 3 EOF read but never closed" and the likely cause of the most
// common one; nothing when sock_diag saw none of the group's sockets.
std::string diagnosis_lines(const Group& g) {
    std::map<Diagnosis, size_t> count;
    for (const auto* s : g.sockets) ++count[s->diagnosis];
    if (count.size() == 1 && count.begin()->first == Diagnosis::Unknown) return "";
    std::vector<std::pair<Diagnosis, size_t>> items(count.begin(), count.end());
    std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
        if ((a.first == Diagnosis::Unknown) != (b.first == Diagnosis::Unknown))
            return b.first == Diagnosis::Unknown;  // what is known first
        return a.second > b.second;
    });
    std::vector<std::string> words = {"why:"};
    for (size_t i = 0; i < items.size(); ++i) {
        const auto more =
            split_words(std::to_string(items[i].second) + " " + summarize(items[i].first) +
                        (i + 1 < items.size() ? "," : ""));
        words.insert(words.end(), more.begin(), more.end());
    }
    std::vector<std::string> cause = {"likely:"};
    for (const auto& w : split_words(likely_cause(items.front().first))) cause.push_back(w);
    return wrap("    ", "         ", words) + wrap("    ", "            ", cause);
}

// Items with their counts, most frequent first (ties in key order), the first few named:
// "label: a (3), b (1), and 2 more".
std::string counted_line(const char* one, const char* many,
                         const std::map<std::string, size_t>& count, size_t max_named) {
    std::vector<std::pair<std::string, size_t>> items(count.begin(), count.end());
    std::stable_sort(items.begin(), items.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    std::vector<std::string> words{items.size() > 1 ? many : one};
    for (size_t i = 0; i < items.size() && i < max_named; ++i) {
        const bool last = i + 1 == items.size();
        words.push_back(items[i].first +
                        (items.size() > 1 ? " (" + std::to_string(items[i].second) + ")" : "") +
                        (last ? "" : ","));
    }
    if (items.size() > max_named)
        words.insert(words.end(), {"and", std::to_string(items.size() - max_named), "more"});
    return wrap("    ", std::string(4 + width(words[0]) + 1, ' '), words);
}

// The peers of a group: for connect() the endpoints it connected to; for accept() the client
// hosts (their ports are ephemeral, so only the address says who they are).
std::string remotes_line(const Group& g) {
    const bool clients = g.origin->kind == OriginKind::Accept || g.server_side;
    std::map<std::string, size_t> count;
    for (const auto* s : g.sockets) {
        ++count[clients ? s->remote.addr() : format_endpoint(s->inet6, s->remote)];
    }
    return clients ? counted_line("client:", "clients:", count, kMaxRemotes)
                   : counted_line("remote:", "remotes:", count, kMaxRemotes);
}

std::string owners_line(const Group& g) {
    std::map<std::string, size_t> count;
    for (const auto* s : g.sockets) ++count[owner(*s)];
    return counted_line("owner:", "owners:", count, kMaxOwners);
}

// "function (module)", or "function [kernel]", with the source position where known; the module
// path gets at most about half the line when space is short, the function name the rest.
std::string frame_line(const Frame& f, bool kernel) {
    const size_t avail = kWidth - kStackIndent.size();
    std::string fn = display_safe(f.function.empty() ? "[unknown]" : f.function);
    std::string mod = kernel && f.module.empty() ? "kernel" : display_safe(f.module);
    const std::string line = f.line ? ":" + std::to_string(*f.line) : "";
    if (!f.file.empty() && (f.module.empty() || f.module == f.file)) {
        // Interpreted code: "fetch_page (crawler.py:12)".
        mod = display_safe(f.file) + line;
    } else if (!f.file.empty()) {
        // Native code with debug info: "open_leaky (/usr/bin/app, leaky.c:41)".
        const size_t slash = f.file.rfind('/');
        mod += ", " + display_safe(slash == std::string::npos ? f.file : f.file.substr(slash + 1)) +
               line;
    }
    const size_t decor = mod.empty() ? 0 : 3;  // " ()" or " []"
    if (width(fn) + decor + width(mod) > avail) {
        const size_t fn_want = std::min(width(fn), avail - decor);
        mod = shorten(mod, std::max(avail - decor - fn_want, avail / 2 - decor));
        fn = shorten(fn, avail - decor - width(mod));
    }
    if (mod.empty()) return kStackIndent + fn + "\n";
    return kStackIndent + fn + (kernel ? " [" + mod + "]" : " (" + mod + ")") + "\n";
}

std::string stack_block(const char* label, const std::vector<Frame>& frames, bool kernel) {
    if (frames.empty()) return std::string("    ") + label + " not captured\n";
    std::string out = std::string("    ") + label + "\n";
    for (const auto& f : frames) out += frame_line(f, kernel);
    return out;
}

std::string stacks(const Origin& o) {
    if (o.kind == OriginKind::Unknown && o.user_stack.empty() && o.kernel_stack.empty())
        return "    opened before tracing started or not yet accepted: stack unknown\n";
    // accept()'s kernel stack is not taken: at the syscall's exit it shows only the exit path.
    if (o.kind == OriginKind::Accept && o.kernel_stack.empty())
        return stack_block("user stack:", o.user_stack, false);
    return stack_block("user stack:", o.user_stack, false) +
           stack_block("kernel stack:", o.kernel_stack, true);
}

// The socket's diagnosis in a few words; empty when sock_diag did not see it.
std::string diagnosis_tag(const SocketEntry& s) {
    return s.diagnosis == Diagnosis::Unknown ? "" : describe(s.diagnosis, s.recv_q);
}

// One socket per line, columns aligned; a line that would not fit is wrapped instead. The owner
// column is left out when the group's title names the holder.
std::string socket_lines(const std::vector<const SocketEntry*>& shown, bool with_owner) {
    size_t wl = 0, wr = 0, wa = 0, wo = 0;
    for (const auto* s : shown) {
        wl = std::max(wl, std::min(kMaxAddrColumn, width(format_endpoint(s->inet6, s->local))));
        wr = std::max(wr, std::min(kMaxAddrColumn, width(format_endpoint(s->inet6, s->remote))));
        wa = std::max(wa, width(age_text(*s)));
        if (with_owner) wo = std::max(wo, width(owner(*s)));
    }
    std::string out;
    for (const auto* s : shown) {
        const std::string local = format_endpoint(s->inet6, s->local),
                          remote = format_endpoint(s->inet6, s->remote), age = age_text(*s),
                          tag = diagnosis_tag(*s);
        std::vector<std::string> columns = {local + " ->", remote, age};
        std::string line = kSocketIndent + pad_right(local, wl) + " -> " + pad_right(remote, wr) +
                           "  " + pad_left(age, wa);
        if (with_owner) {
            line += "  " + (tag.empty() ? owner(*s) : pad_right(owner(*s), wo));
            columns.push_back(owner(*s));
        }
        if (!tag.empty()) {
            line += "  " + tag;
            columns.push_back(tag);
        }
        out += width(line) <= kWidth ? line + "\n"
                                     : wrap(kSocketIndent, kSocketIndent + "    ", columns, "  ");
    }
    return out;
}

std::string sockets_block(const Group& g) {
    const auto& all = g.sockets;
    if (all.size() <= kMaxSocketsListed) return "    sockets:\n" + socket_lines(all, !g.held);
    const std::vector<const SocketEntry*> shown(all.begin(), all.begin() + kSocketsWhenSummarized);
    const size_t rest = all.size() - shown.size();
    return "    sockets (" + std::to_string(shown.size()) + " oldest of " +
           std::to_string(all.size()) + "):\n" + socket_lines(shown, !g.held) +
           wrap(kSocketIndent, kSocketIndent + "    ",
                split_words("... and " + plural(rest, "more socket,", "more sockets,") + " aged " +
                            age_text(*all.back()) + " to " + age_text(*all[shown.size()])));
}

// What the marks before ages mean, when the report has any.
std::string footnotes(const Report& report) {
    const auto any = [&](auto pred) {
        return std::any_of(report.sockets.begin(), report.sockets.end(), pred);
    };
    std::string out;
    if (any([](const SocketEntry& s) { return s.age_estimate_seconds.has_value(); }))
        out += wrap("", "  ",
                    split_words("~ before an age: estimated from the last segment received (the "
                                "peer's FIN), for sockets already in CLOSE_WAIT when tracing "
                                "began; --min-age judged them by this estimate."));
    if (any([](const SocketEntry& s) { return s.before_start && !s.age_estimate_seconds; }))
        out += wrap("", "  ",
                    split_words("> before an age: lower bound, already in CLOSE_WAIT when "
                                "tracing began."));
    return out.empty() ? "" : "\n" + out;
}

}  // namespace

std::string render_text(const Report& report) {
    std::string out = header(report) + lost_warning(report.stats);
    if (report.sockets.empty())
        return out + "No sockets in CLOSE_WAIT for at least " +
               human_setting(report.min_age_seconds) + ".\n" + render_late_closes_text(report) +
               render_durations_text(report);
    const auto groups = group_sockets(report);
    for (size_t i = 0; i < groups.size(); ++i) {
        const Group& g = groups[i];
        out += "\n" + group_title(i + 1, g);
        if (g.held)
            out += container_line(g) + (g.server_side ? remotes_line(g) : "");
        else
            out += owners_line(g) + remotes_line(g);
        out += diagnosis_lines(g) + stacks(*g.origin) + sockets_block(g);
    }
    out += footnotes(report);
    return out + render_late_closes_text(report) + render_durations_text(report);
}

}  // namespace cwtrace
