// Text report for a person at a terminal: the biggest leaking code path first, its count, oldest
// and median age, owners, most common remote endpoints, why the sockets are stuck (diagnosis) and
// opening stack. Sockets whose opening path is unknown (already in CLOSE_WAIT at start) are grouped
// by who holds them and where they lead instead: "N sockets held by pid P (cmd) to REMOTE:PORT"
// (the groups come from socket_groups.h). Groups whose paths reach the same line of the user's own
// code in the same program are one leak (own_groups.h): one headline, its paths listed below it
// by count, their library frames folded (stack_folding.h) unless --full-stacks. Every line fits
// the layout's width (80 columns, or the terminal's; counted in code points); names too long for
// it are shortened, paths from the left (text_layout.h; the JSON report keeps them whole).
// Untrusted strings (process names, symbols, paths) are made terminal-safe: control characters,
// bidi overrides and invalid UTF-8 are shown as \xNN escapes.
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "render/render.h"
#include "render/text_layout.h"
#include "report/own_groups.h"
#include "report/runtime.h"
#include "report/socket_groups.h"
#include "util/display.h"
#include "util/progress.h"

namespace cwtrace {
namespace {

using namespace text_layout;

constexpr size_t kMaxOwners = 5;              // owners listed by name; the rest are counted
constexpr size_t kMaxRemotes = 3;             // the most common remote endpoints listed
constexpr size_t kMaxSocketsListed = 10;      // a group with more sockets is summarized...
constexpr size_t kSocketsWhenSummarized = 5;  // ...by its oldest few and a count
constexpr size_t kMaxAddrColumn = 23;         // wider addresses overflow their column
constexpr size_t kMaxCmdline = 48;            // a holder's command line in a group title
const std::string kSocketIndent = "      ";

// ---- Values ----

// "~" marks an estimate, ">" a lower bound (already in CLOSE_WAIT when tracing began, no estimate).
const char* age_mark(const SocketEntry& s) {
    if (s.age_estimate_seconds) return "~";
    return s.before_start ? ">" : "";
}

std::string age_text(const SocketEntry& s) {
    return age_mark(s) + human_duration(best_age_seconds(s));
}

// The oldest socket's age in a title: an estimate says so in words.
std::string oldest_text(const SocketEntry& s) {
    return age_text(s) + (s.age_estimate_seconds ? " (est.)" : "");
}

std::string owner(const SocketEntry& s) { return format_process(s.comm, s.pid); }

// ---- Sections ----

std::string header(const Layout& L, const Report& r) {
    return L.wrap(
        "", "         ",
        {"cwtrace:", "tracing " + human_setting(r.tracing_seconds) + ",",
         "min-age " + human_setting(r.min_age_seconds) + ",",
         plural(r.sockets.size(), "socket", "sockets") + " shown,",
         plural(r.stats.events, "event,", "events,"), std::to_string(r.stats.lost_events), "lost"});
}

// Why stacks went uncaptured, and what raises the limit each hit: dwarf mode's copies (the copy
// ring full while cwtrace was behind a burst), the stack map (full, or a hash collision).
std::string stacks_lost_why(const Stats& st) {
    std::string text;
    if (st.stack_copies_lost)
        text += ". " + plural(st.stack_copies_lost, "stack copy", "stack copies") +
                " not unwound: the copy ring buffer was full while cwtrace was behind "
                "(CWTRACE_COPY_RINGBUF_BYTES raises it); those sockets show their frame-pointer "
                "stack";
    const uint64_t copies_and_stale = st.stack_copies_lost + st.stale_stacks;
    if (st.stacks_lost > copies_and_stale)
        text += ". " + plural(st.stacks_lost - copies_and_stale, "stack", "stacks") +
                " not captured: the stack map was full or a hash collided "
                "(CWTRACE_STACK_MAP_ENTRIES raises it)";
    return text;
}

std::string lost_warning(const Layout& L, const Stats& st) {
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
    std::string text = "WARNING: " + plural(total, "event", "events") + " lost" +
                       (detail.empty() ? "" : detail + ")") + "; the report may be incomplete";
    // Why openers went unrecorded, and what to do about it: their sockets show no opening path.
    if (st.origin_map_full && st.origin_map_entries)
        text += ". " + plural(st.origin_map_full, "opener", "openers") +
                " not recorded: no room for them in the opener map (" +
                thousands(st.origin_map_entries) +
                " entries; CWTRACE_ORIGIN_MAP_ENTRIES raises it); their sockets show no "
                "opening path";
    text += stacks_lost_why(st);
    return L.paint(L.wrap("", "         ", split_words(text)), Paint::Warning);
}

// Names lost, not events: files another process named refused by cause, and the kernel stack
// map's recycling (model/report.h). Nothing when none.
std::string names_lost(const Layout& L, const Stats& st) {
    std::string refused;
    for (const auto& [cause, n] : st.files_refused)
        if (n) refused += (refused.empty() ? "" : ", ") + std::to_string(n) + " " + cause;
    if (refused.empty() && st.stacks_recycled == 0 && st.stale_stacks == 0) return "";
    std::string text = "names lost:";
    if (!refused.empty()) text += " files refused (" + refused + ");";
    text += " kernel stack map: " + std::to_string(st.stacks_recycled) + " stacks recycled, " +
            std::to_string(st.stale_stacks) + " stale";
    return L.paint(L.wrap("", "         ", split_words(text)), Paint::Warning);
}

// The middle age of the group (sockets are oldest first), marked like the ages it rests on.
std::string median_age(const SocketGroup& g) {
    const auto& all = g.sockets;
    const size_t n = all.size();
    const SocketEntry& hi = *all[(n - 1) / 2];
    const SocketEntry& lo = *all[n / 2];
    const char* mark = *age_mark(hi) ? age_mark(hi) : age_mark(lo);
    return mark + human_duration((best_age_seconds(hi) + best_age_seconds(lo)) / 2);
}

// "pid 4242 (python3 crawler.py)": the command line when /proc gave one, else the comm.
std::string holder(const SocketEntry& s) {
    if (!s.pid) return s.comm ? owner(s) : "no process (still in a listen queue?)";
    std::string cmd =
        s.owner && !s.owner->cmdline.empty() ? s.owner->cmdline : s.comm.value_or("?");
    return "pid " + std::to_string(*s.pid) + " (" + shorten(display_safe(cmd), kMaxCmdline) + ")";
}

std::vector<std::string> ages_words(const SocketGroup& g) {
    return {"oldest", oldest_text(*g.sockets.front()) + ",", "median", median_age(g) + ","};
}

// "#1  3 sockets opened in fetch_page (crawler.py:12) by connect(), oldest 58.3s, median 45.0s"
// when the path has a frame of the user's own code (report/own_frame), which is what a reader
// fixes; else "#1  3 sockets, oldest 58.3s, median 45.0s, opened by connect()".
std::string path_title(const Layout& L, const std::string& number, const SocketGroup& g) {
    const Frame* own = g.origin->own();
    if (!own) {
        std::vector<std::string> words = {number, plural(g.sockets.size(), "socket,", "sockets,")};
        for (auto& w : ages_words(g)) words.push_back(std::move(w));
        words.push_back(how_opened(*g.origin));
        return L.wrap("", "    ", words);
    }
    std::vector<std::string> words = {number, plural(g.sockets.size(), "socket", "sockets"),
                                      "opened", "in"};
    for (auto& w : split_words(own_frame_text(*own))) words.push_back(std::move(w));
    if (g.origin->kind == OriginKind::Unknown)
        words.back() += ",";
    else
        words.insert(words.end(), {"by", std::string(to_string(g.origin->kind)) + "(),"});
    std::vector<std::string> ages = ages_words(g);
    ages.back().pop_back();  // the last comma
    for (auto& w : ages) words.push_back(std::move(w));
    return L.wrap("", "    ", words);
}

// "#2  15 sockets held by pid 4242 (python3 ...) to 10.0.0.77:8080", its ages on a line below.
std::string held_title(const Layout& L, const std::string& number, const SocketGroup& g) {
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
    std::vector<std::string> ages = ages_words(g);
    if (g.sockets.size() == 1) ages.resize(2);
    ages.back().pop_back();
    return L.paint(L.wrap("", "    ", words), Paint::Title) +
           L.paint(L.wrap("    ", "    ", ages), Paint::Age);
}

std::string group_title(const Layout& L, size_t index, const SocketGroup& g) {
    const std::string number = "#" + std::to_string(index) + " ";
    return g.held ? held_title(L, number, g) : L.paint(path_title(L, number, g), Paint::Title);
}

// Where the holder runs, when it is not the host's view: "in container 3f2a1b4c5d6e as pid 7",
// "in pod payments/api-7d9f (container web) as pid 7".
std::string container_line(const Layout& L, const SocketGroup& g) {
    const SocketEntry& s = *g.sockets.front();
    if (!s.owner || (!s.owner->container_id && !s.owner->pid_in_namespace)) return "";
    std::vector<std::string> words = {"in"};
    const OwnerDetails& o = *s.owner;
    if (o.pod && o.namespace_name)
        words.insert(
            words.end(),
            {"pod", display_safe(*o.namespace_name + "/" + *o.pod), "(container",
             display_safe(o.container.value_or(o.container_id.value_or("?").substr(0, 12))) + ")"});
    else if (s.owner->container_id)
        words.insert(words.end(),
                     {"container", display_safe(s.owner->container_id->substr(0, 12))});
    else
        words.insert(words.end(), {"its", "own", "pid", "namespace"});
    if (s.owner->pid_in_namespace)
        words.insert(words.end(), {"as", "pid", std::to_string(*s.owner->pid_in_namespace)});
    return L.wrap("    ", "    ", words);
}

// "why: 12 never read to the end, 3 EOF read but never closed" and the likely cause of the most
// common one; nothing when sock_diag saw none of the group's sockets.
std::string diagnosis_lines(const Layout& L, const SocketGroup& g) {
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
    const Runtime runtime =
        g.origin ? runtime_of(*g.origin, g.sockets.front()->comm) : Runtime::Unknown;
    for (const auto& w : split_words(likely_cause(items.front().first, runtime)))
        cause.push_back(w);
    return L.wrap("    ", "         ", words) + L.wrap("    ", "            ", cause);
}

// Items with their counts, most frequent first (ties in key order), the first few named:
// "label: a (3), b (1), and 2 more".
std::string counted_line(const Layout& L, const char* one, const char* many,
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
    return L.wrap("    ", std::string(4 + width(words[0]) + 1, ' '), words);
}

// The peers of a group: for connect() the endpoints it connected to; for accept() the client
// hosts (their ports are ephemeral, so only the address says who they are).
std::string remotes_line(const Layout& L, const SocketGroup& g) {
    const bool clients = g.origin->kind == OriginKind::Accept || g.server_side;
    std::map<std::string, size_t> count;
    for (const auto* s : g.sockets) {
        ++count[clients ? s->remote.addr() : format_endpoint(s->inet6, s->remote)];
    }
    return clients ? counted_line(L, "client:", "clients:", count, kMaxRemotes)
                   : counted_line(L, "remote:", "remotes:", count, kMaxRemotes);
}

std::string owners_line(const Layout& L, const SocketGroup& g) {
    std::map<std::string, size_t> count;
    for (const auto* s : g.sockets) ++count[owner(*s)];
    return L.paint(counted_line(L, "owner:", "owners:", count, kMaxOwners), Paint::Owner);
}

std::string stacks(const Layout& L, const SocketGroup& g, bool full) {
    const Origin& o = *g.origin;
    if (g.held) return "    opened before tracing started or not yet accepted: stack unknown\n";
    std::string user = full ? L.stack_block("user stack:", o.user_stack, false)
                            : L.folded_stack_block("user stack:", o);
    // The frames a reader would look for, the caller's, are not there: say why.
    if (opened_from_event_loop(o))
        user += L.wrap("    ", "      ",
                       split_words("opened from the event loop: the caller had returned "
                                   "(net.connect defers connect())"));
    // accept()'s kernel stack is not taken: at the syscall's exit it shows only the exit path.
    if (o.kind == OriginKind::Accept && o.kernel_stack.empty()) return user;
    return user + L.stack_block("kernel stack:", o.kernel_stack, true);
}

// A merged group's paths, each once, largest first, each with its count and stacks.
std::string paths_block(const Layout& L, const OwnGroup& m, bool full) {
    if (m.paths.size() == 1) return stacks(L, m.paths.front(), full);
    std::string out;
    for (size_t i = 0; i < m.paths.size(); ++i)
        out += L.fitted_line("    ", "path " + std::to_string(i + 1) + " of " +
                                         std::to_string(m.paths.size()) + ": " +
                                         plural(m.paths[i].sockets.size(), "socket", "sockets")) +
               stacks(L, m.paths[i], full);
    return out;
}

// The socket's diagnosis in a few words; empty when sock_diag did not see it.
std::string diagnosis_tag(const SocketEntry& s) {
    return s.diagnosis == Diagnosis::Unknown ? "" : describe(s.diagnosis, s.recv_q);
}

struct ColumnWidths {
    size_t local = 0, remote = 0, age = 0, owner = 0;
};

ColumnWidths column_widths(const std::vector<const SocketEntry*>& shown, bool with_owner) {
    ColumnWidths w;
    for (const auto* s : shown) {
        w.local =
            std::max(w.local, std::min(kMaxAddrColumn, width(format_endpoint(s->inet6, s->local))));
        w.remote = std::max(w.remote,
                            std::min(kMaxAddrColumn, width(format_endpoint(s->inet6, s->remote))));
        w.age = std::max(w.age, width(age_text(*s)));
        if (with_owner) w.owner = std::max(w.owner, width(owner(*s)));
    }
    return w;
}

// One socket on a line, its columns aligned; a line that would not fit is wrapped instead.
std::string socket_line(const Layout& L, const SocketEntry& s, const ColumnWidths& w,
                        bool with_owner) {
    const std::string local = format_endpoint(s.inet6, s.local),
                      remote = format_endpoint(s.inet6, s.remote), age = age_text(s),
                      tag = diagnosis_tag(s);
    std::vector<std::string> columns = {local + " ->", remote, age};
    std::string line = kSocketIndent + pad_right(local, w.local) + " -> " +
                       pad_right(remote, w.remote) + "  " + pad_left(age, w.age);
    if (with_owner) {
        line += "  " + (tag.empty() ? owner(s) : pad_right(owner(s), w.owner));
        columns.push_back(owner(s));
    }
    if (!tag.empty()) {
        line += "  " + tag;
        columns.push_back(tag);
    }
    if (width(line) <= L.columns()) return line + "\n";
    return L.wrap(kSocketIndent, kSocketIndent + "    ", columns, "  ");
}

// The owner column is left out when the group's title names the holder.
std::string socket_lines(const Layout& L, const std::vector<const SocketEntry*>& shown,
                         bool with_owner) {
    const ColumnWidths w = column_widths(shown, with_owner);
    std::string out;
    for (const auto* s : shown) out += socket_line(L, *s, w, with_owner);
    return out;
}

std::string sockets_block(const Layout& L, const SocketGroup& g) {
    const auto& all = g.sockets;
    if (all.size() <= kMaxSocketsListed) return "    sockets:\n" + socket_lines(L, all, !g.held);
    const std::vector<const SocketEntry*> shown(all.begin(), all.begin() + kSocketsWhenSummarized);
    const size_t rest = all.size() - shown.size();
    return "    sockets (" + std::to_string(shown.size()) + " oldest of " +
           std::to_string(all.size()) + "):\n" + socket_lines(L, shown, !g.held) +
           L.wrap(
               kSocketIndent, kSocketIndent + "    ",
               split_words("... and " + plural(rest, "more socket,", "more sockets,") + " aged " +
                           age_text(*all.back()) + " to " + age_text(*all[shown.size()])));
}

// What the marks before ages mean, when the report has any.
std::string footnotes(const Layout& L, const Report& report) {
    const auto any = [&](auto pred) {
        return std::any_of(report.sockets.begin(), report.sockets.end(), pred);
    };
    std::string out;
    if (any([](const SocketEntry& s) { return s.age_estimate_seconds.has_value(); }))
        out += L.wrap("", "  ",
                      split_words("~ before an age: estimated from the last segment received (the "
                                  "peer's FIN), for sockets already in CLOSE_WAIT when tracing "
                                  "began; --min-age judged them by this estimate."));
    if (any([](const SocketEntry& s) { return s.before_start && !s.age_estimate_seconds; }))
        out += L.wrap("", "  ",
                      split_words("> before an age: lower bound, already in CLOSE_WAIT when "
                                  "tracing began."));
    return out.empty() ? "" : "\n" + out;
}

// One leak: its headline, who and where, why, its paths and its sockets. A group merged from
// several paths (own_groups.h) is described over all their sockets.
std::string group_block(const Layout& L, size_t index, const OwnGroup& m, bool full) {
    const SocketGroup all{m.paths.front().origin, m.sockets, m.paths.front().held,
                          m.paths.front().server_side};
    std::string out = "\n" + group_title(L, index, all);
    if (all.held)
        out += container_line(L, all) + (all.server_side ? remotes_line(L, all) : "");
    else
        out += owners_line(L, all) + remotes_line(L, all);
    return out + diagnosis_lines(L, all) + paths_block(L, m, full) + sockets_block(L, all);
}

}  // namespace

std::string render_text(const Report& report, const ReportContext& context) {
    const Layout L(context.text_width, context.color);
    std::string out =
        header(L, report) + lost_warning(L, report.stats) + names_lost(L, report.stats);
    if (report.sockets.empty())
        return out + "No sockets in CLOSE_WAIT for at least " +
               human_setting(report.min_age_seconds) + ".\n" +
               render_late_closes_text(report, context) + render_durations_text(report, context);
    const auto groups = group_by_own_frame(report);
    for (size_t i = 0; i < groups.size(); ++i)
        out += group_block(L, i + 1, groups[i], context.full_stacks);
    out += footnotes(L, report);
    return out + render_late_closes_text(report, context) + render_durations_text(report, context);
}

}  // namespace cwtrace
