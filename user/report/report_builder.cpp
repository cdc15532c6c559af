// Building the report: the tracked sockets' facts and owners (from the start's snapshot, or a
// new scan beside a pass over the holders), oldest first, each with its opening path.
#include "report/report_builder.h"

#include <spdlog/spdlog.h>
#include <spdlog/stopwatch.h>

#include <algorithm>
#include <future>
#include <memory>
#include <unordered_map>

#include "sockets/close_wait_scan.h"
#include "util/huge_pages.h"

namespace cwtrace {
namespace {

bool selected(const std::vector<pid_t>& filter, std::optional<uint32_t> owner,
              const Origin& origin) {
    if (filter.empty()) return true;
    // An owner unknown now (e.g. not yet accepted) is judged by who opened it.
    auto pid = owner ? owner : origin.pid;
    return pid && std::find(filter.begin(), filter.end(), static_cast<pid_t>(*pid)) != filter.end();
}

using Details = std::unordered_map<uint32_t, std::shared_ptr<const OwnerDetails>>;

// The details of process `pid` (/proc), read once per report.
const std::shared_ptr<const OwnerDetails>& details_of(OwnerFinder& owners, Details& details,
                                                      uint32_t pid) {
    auto [d, fresh] = details.try_emplace(pid);
    if (fresh)
        d->second = std::make_shared<const OwnerDetails>(owners.details(static_cast<pid_t>(pid)));
    return d->second;
}

// --comm, --container, --cgroup: judged on the owner, or (none now) on who opened the socket.
bool owner_selected(const SocketFilter& filter, const SocketEntry& entry, OwnerFinder& owners,
                    Details& details) {
    if (entry.pid) return filter.owner_selected(entry.comm.value_or(""), entry.owner.get());
    const Origin& opener = entry.origin;
    if (!opener.pid) return false;
    const OwnerDetails* opener_details =
        filter.by_process_details() ? details_of(owners, details, *opener.pid).get() : nullptr;
    return filter.owner_selected(opener.comm.value_or(""), opener_details);
}

// A tracked socket on its way into the report: small, since there may be a million.
struct Candidate {
    const TrackedSocket* socket = nullptr;
    SocketFacts seen;
    pid_t owner = 0;  // 0: no process holds it
    double age = 0;   // the best age known
    // The socket's order in the table (oldest traced first, then by key), copied so that
    // sorting a million candidates does not chase a million pointers.
    uint64_t since_ns = 0, key = 0;
};

using Comms = std::unordered_map<pid_t, std::string>;

// How long the socket has been in CLOSE_WAIT by the trace, in seconds.
double traced_age(const TrackedSocket& s, uint64_t now_ns) {
    return static_cast<double>(now_ns - std::min(now_ns, s.close_wait_since_ns)) / 1e9;
}

// The candidates' facts and owners as the start's snapshot saw them; it is emptied (memory).
void take_from_start(StartSnapshot& start, uint64_t now_ns, std::vector<Candidate>& candidates,
                     Comms& comms) {
    // Facts as of the snapshot; an idle socket's time since its last segment has grown since.
    const auto since_ms = static_cast<uint32_t>((now_ns - start.taken_ns) / 1'000'000);
    for (Candidate& c : candidates) {
        const StartSnapshot::Known& known = *start.find(c.socket->key, c.socket->ino);
        c.seen = known.facts;
        if (c.seen.has_tcp_info) c.seen.last_ack_recv_ms += since_ms;
        c.owner = known.owner;
    }
    comms = std::move(start.comms);
    start = {};  // a million facts, not needed any more
    spdlog::debug("report: {} sockets, facts and owners from the start ({} ms ago)",
                  candidates.size(), since_ms);
}

// The candidates' facts from a sock_diag dump (`taken` for this report, else a new one), their
// owners from their holders now.
void scan_now(OwnerFinder& owners, std::vector<Candidate>& candidates, Comms& comms,
              const std::vector<DumpedSocket>* taken, HeldSockets* walked,
              const spdlog::stopwatch& watch) {
    TrackedIndex index(candidates.size());
    for (uint32_t i = 0; i < candidates.size(); ++i) index.add(i, *candidates[i].socket);
    index.finish();
    const auto seen = [&](uint32_t at, const SocketFacts& facts) { candidates[at].seen = facts; };
    // The kernel's dump and the /proc scan are the two slow steps, and independent.
    auto dumped = std::async(std::launch::async, [&] {
        if (taken)
            look_up_close_wait(index, *taken, seen);
        else
            look_up_close_wait(index, seen);
    });
    HeldSockets held = walked ? std::move(*walked)
                              : owners.find_holders([&](uint64_t ino) { return index.holds(ino); });
    if (!walked)
        spdlog::debug("report: {} sockets in the table, their holders found in {:.3f} s",
                      candidates.size(), watch);
    dumped.get();
    spdlog::debug("report: sock_diag dump done at {:.3f} s", watch);
    // In the index's order, by inode: assign_owners() need not sort them again.
    OwnerSlots slots;
    slots.reserve(index.by_inode().size());
    for (const auto& [ino, at] : index.by_inode()) slots.emplace_back(ino, &candidates[at].owner);
    assign_owners(std::move(slots), std::move(held), comms);
}

// Oldest first, by the best age known, those younger than `min_age_seconds` dropped; ordered
// before the entries are built, which are large to move. Sockets found by sock_diag are judged
// by their estimated age, others by the traced one.
void order_by_age(std::vector<Candidate>& candidates, uint64_t now_ns, double min_age_seconds) {
    for (Candidate& c : candidates) {
        const bool estimated = c.socket->untraced && c.seen.has_tcp_info;
        c.age = estimated ? c.seen.last_ack_recv_ms / 1e3 : traced_age(*c.socket, now_ns);
    }
    std::erase_if(candidates, [&](const Candidate& c) { return c.age < min_age_seconds; });
    // Ties (the same age) in the table's order: the longest traced first, then by key.
    std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
        if (a.age != b.age) return a.age > b.age;
        if (a.since_ns != b.since_ns) return a.since_ns < b.since_ns;
        return a.key < b.key;
    });
}

// A candidate's entry as far as the socket itself and its facts tell (no owner, no origin).
SocketEntry entry_of(const Candidate& c, uint64_t now_ns) {
    const TrackedSocket* s = c.socket;
    SocketEntry entry;
    entry.close_wait_seconds = traced_age(*s, now_ns);
    entry.before_start = s->before_start;
    if (c.seen.found) {
        entry.recv_q = c.seen.recv_q;
        entry.send_q = c.seen.send_q;
        entry.diagnosis = diagnose(c.seen.recv_q);
        entry.accepted = c.seen.accepted;
        if (s->untraced && c.seen.has_tcp_info)
            entry.age_estimate_seconds = c.seen.last_ack_recv_ms / 1e3;
    }
    return entry;
}

}  // namespace

Report ReportBuilder::build(const SocketTable& table, const ReportInput& input,
                            StartSnapshot* start) {
    spdlog::stopwatch watch;
    Report report;
    report.min_age_seconds = static_cast<double>(input.min_age_ns) / 1e9;
    report.tracing_seconds = input.tracing_seconds;
    report.local_port_range = ephemeral_ports();  // what tells a server's end from a client's
    report.stats = input.stats;

    std::vector<Candidate> candidates;
    candidates.reserve(table.size());
    advise_huge_pages(candidates);
    // Ports and addresses first: the sockets they leave out cost no dump and no owner.
    table.for_each([&](const TrackedSocket& s) {
        if (input.filter.flow_selected(s.flow))
            candidates.push_back(Candidate{&s, {}, 0, 0, s.close_wait_since_ns, s.key});
    });
    Comms comms;
    if (start)
        take_from_start(*start, input.now_ns, candidates, comms);
    else if (!candidates.empty())  // nothing tracked (a quiet host): no dump, no walk
        scan_now(owners_, candidates, comms, input.dumped, input.held, watch);
    order_by_age(candidates, input.now_ns, report.min_age_seconds);

    Details details;
    StackResolver::ResolvedOrigins resolved;
    report.sockets.reserve(candidates.size());
    advise_huge_pages(report.sockets);
    for (size_t i = 0; i < candidates.size(); ++i) {
        const Candidate& c = candidates[i];
        const TrackedSocket* s = c.socket;
        // In age order the sockets are all over memory: ask for one a few steps ahead.
        if (i + 8 < candidates.size()) __builtin_prefetch(candidates[i + 8].socket);
        if (i % 4096 == 0 && input.progress) input.progress(i, candidates.size());
        SocketEntry entry = entry_of(c, input.now_ns);
        if (c.owner) {
            entry.pid = static_cast<uint32_t>(c.owner);
            entry.comm = comms[c.owner];
            entry.owner = details_of(owners_, details, *entry.pid);
        }
        if (s->origin) entry.origin = stacks_.resolve_origin(*s->origin, s->key, resolved);
        if (!selected(input.pid_filter, entry.pid, entry.origin)) continue;
        if (input.filter.by_owner() && !owner_selected(input.filter, entry, owners_, details))
            continue;
        entry.inet6 = s->inet6();
        entry.local = {s->inet6(), s->flow.saddr, s->flow.sport};
        entry.remote = {s->inet6(), s->flow.daddr, s->flow.dport};
        report.sockets.push_back(std::move(entry));
    }
    spdlog::debug("report: {} sockets built at {:.3f} s", report.sockets.size(), watch);
    // Names lost to files a process names being refused, or to bounds on what it can grow.
    if (const std::string losses = stacks_.read_losses(); !losses.empty())
        spdlog::debug("symbolization: {}", losses);
    return report;
}

}  // namespace cwtrace
