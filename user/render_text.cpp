// Text report for a person at a terminal: the biggest leaking code path first, its count, oldest
// and median age, owners, most common remote endpoints and opening stack. Every line fits in 80
// columns (counted in code points); names too long for that are shortened in the middle with "…"
// (the JSON report keeps them whole). Untrusted strings (process names, symbols, paths) are made
// terminal-safe: control characters, bidi overrides and invalid UTF-8 are shown as \xNN escapes.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cwtrace/display.h"
#include "cwtrace/opening_paths.h"
#include "cwtrace/render.h"

namespace cwtrace {
namespace {

constexpr size_t kWidth = 80;
constexpr size_t kMaxOwners = 5;              // owners listed by name; the rest are counted
constexpr size_t kMaxRemotes = 3;             // the most common remote endpoints listed
constexpr size_t kMaxSocketsListed = 10;      // a group with more sockets is summarized...
constexpr size_t kSocketsWhenSummarized = 5;  // ...by its oldest few and a count
constexpr size_t kMaxAddrColumn = 23;         // wider addresses overflow their column
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

double age_of(const SocketEntry& s) {
    return std::isfinite(s.close_wait_seconds) && s.close_wait_seconds > 0 ? s.close_wait_seconds
                                                                           : 0;
}

// Age of a socket; ">" marks a lower bound (already in CLOSE_WAIT when tracing began).
std::string age_text(const SocketEntry& s) {
    return (s.before_start ? ">" : "") + human_duration(age_of(s));
}

std::string endpoint(const Endpoint& e, bool inet6) {
    const std::string addr = display_safe(e.addr);
    return (inet6 ? "[" + addr + "]" : addr) + ":" + std::to_string(e.port);
}

std::string owner(const SocketEntry& s) {
    if (!s.pid && !s.comm) return "unknown";
    return (s.comm ? display_safe(*s.comm) : "?") + "[" + (s.pid ? std::to_string(*s.pid) : "?") +
           "]";
}

std::string plural(uint64_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

// ---- Grouping by opening code path ----

using Group = PathGroup;  // here with its sockets oldest first

// Largest group first; ties: oldest socket first, then by path (opening_paths.h's order).
std::vector<Group> group_sockets(const Report& r) {
    std::vector<Group> groups = group_by_opening_path(r);
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
        {"ring buffer full", st.ringbuf_full},         {"origin map full", st.origin_map_full},
        {"stacks not captured", st.stacks_lost},       {"accepts unresolved", st.accept_unresolved},
        {"BPF recursion misses", st.recursion_misses}, {"decode errors", st.decode_errors}};
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

// The middle age of the group (sockets are oldest first); ">" if it rests on a lower bound.
std::string median_age(const Group& g) {
    const auto& all = g.sockets;
    const size_t n = all.size();
    const SocketEntry& hi = *all[(n - 1) / 2];
    const SocketEntry& lo = *all[n / 2];
    const bool lower_bound = hi.before_start || lo.before_start;
    return (lower_bound ? ">" : "") + human_duration((age_of(hi) + age_of(lo)) / 2);
}

std::string group_title(size_t index, const Group& g) {
    const Origin& o = *g.origin;
    const std::string how = o.kind == OriginKind::Unknown
                                ? "origin unknown"
                                : std::string("opened by ") + to_string(o.kind) + "()";
    return wrap("", "    ",
                {"#" + std::to_string(index) + " ", plural(g.sockets.size(), "socket,", "sockets,"),
                 "oldest", age_text(*g.sockets.front()) + ",", "median", median_age(g) + ",", how});
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
    const bool clients = g.origin->kind == OriginKind::Accept;
    std::map<std::string, size_t> count;
    for (const auto* s : g.sockets) {
        ++count[clients ? display_safe(s->remote.addr) : endpoint(s->remote, s->inet6)];
    }
    return clients ? counted_line("client:", "clients:", count, kMaxRemotes)
                   : counted_line("remote:", "remotes:", count, kMaxRemotes);
}

std::string owners_line(const Group& g) {
    std::map<std::string, size_t> count;
    for (const auto* s : g.sockets) ++count[owner(*s)];
    return counted_line("owner:", "owners:", count, kMaxOwners);
}

// "function (module)", or "function [kernel]"; the module path gets at most about half the line
// when space is short, the function name the rest.
std::string frame_line(const Frame& f, bool kernel) {
    const size_t avail = kWidth - kStackIndent.size();
    std::string fn = display_safe(f.function.empty() ? "[unknown]" : f.function);
    std::string mod = kernel && f.module.empty() ? "kernel" : display_safe(f.module);
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

// One socket per line, columns aligned; a line that would not fit is wrapped instead.
std::string socket_lines(const std::vector<const SocketEntry*>& shown) {
    size_t wl = 0, wr = 0, wa = 0;
    for (const auto* s : shown) {
        wl = std::max(wl, std::min(kMaxAddrColumn, width(endpoint(s->local, s->inet6))));
        wr = std::max(wr, std::min(kMaxAddrColumn, width(endpoint(s->remote, s->inet6))));
        wa = std::max(wa, width(age_text(*s)));
    }
    std::string out;
    for (const auto* s : shown) {
        const std::string local = endpoint(s->local, s->inet6),
                          remote = endpoint(s->remote, s->inet6), age = age_text(*s);
        const std::string line = kSocketIndent + pad_right(local, wl) + " -> " +
                                 pad_right(remote, wr) + "  " + pad_left(age, wa) + "  " +
                                 owner(*s);
        out += width(line) <= kWidth ? line + "\n"
                                     : wrap(kSocketIndent, kSocketIndent + "    ",
                                            {local + " ->", remote, age, owner(*s)}, "  ");
    }
    return out;
}

std::string sockets_block(const Group& g) {
    const auto& all = g.sockets;
    if (all.size() <= kMaxSocketsListed) return "    sockets:\n" + socket_lines(all);
    const std::vector<const SocketEntry*> shown(all.begin(), all.begin() + kSocketsWhenSummarized);
    const size_t rest = all.size() - shown.size();
    return "    sockets (" + std::to_string(shown.size()) + " oldest of " +
           std::to_string(all.size()) + "):\n" + socket_lines(shown) +
           wrap(kSocketIndent, kSocketIndent + "    ",
                split_words("... and " + plural(rest, "more socket,", "more sockets,") + " aged " +
                            age_text(*all.back()) + " to " + age_text(*all[shown.size()])));
}

}  // namespace

std::string render_text(const Report& report) {
    std::string out = header(report) + lost_warning(report.stats);
    if (report.sockets.empty())
        return out + "No sockets in CLOSE_WAIT for at least " +
               human_setting(report.min_age_seconds) + ".\n";
    const auto groups = group_sockets(report);
    for (size_t i = 0; i < groups.size(); ++i)
        out += "\n" + group_title(i + 1, groups[i]) + owners_line(groups[i]) +
               remotes_line(groups[i]) + stacks(*groups[i].origin) + sockets_block(groups[i]);
    const bool lower_bounds = std::any_of(report.sockets.begin(), report.sockets.end(),
                                          [](const SocketEntry& s) { return s.before_start; });
    if (lower_bounds)
        out += "\n" + wrap("", "  ",
                           split_words("> before an age: lower bound, already in CLOSE_WAIT when "
                                       "tracing began."));
    return out;
}

}  // namespace cwtrace
