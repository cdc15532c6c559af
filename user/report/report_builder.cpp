#include "report/report_builder.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <spdlog/stopwatch.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <future>
#include <map>
#include <set>
#include <unordered_set>

#include "owners/owners.h"
#include "owners/process_info.h"
#include "python/python_stacks.h"
#include "sockets/netns.h"
#include "sockets/sock_diag.h"
#include "symbols/call_site.h"
#include "util/net_format.h"

namespace cwtrace {
namespace {

// Innermost kernel frames that belong to the tracing machinery, not to the socket's code path.
bool is_tracing_frame(const std::string& name) {
    static constexpr std::string_view kPrefixes[] = {"bpf_",   "perf_",   "trace_",  "__traceiter_",
                                                     "__bpf_", "__perf_", "__trace_"};
    return std::any_of(std::begin(kPrefixes), std::end(kPrefixes),
                       [&](std::string_view p) { return name.starts_with(p); });
}

std::string comm_of(const cw_origin& origin) {
    return std::string(origin.comm, strnlen(origin.comm, sizeof origin.comm));
}

OriginKind kind_of(uint32_t kind) {
    switch (kind) {
        case CW_ORIGIN_CONNECT:
            return OriginKind::Connect;
        case CW_ORIGIN_ACCEPT:
            return OriginKind::Accept;
        default:
            return OriginKind::Unknown;
    }
}

bool selected(const std::vector<pid_t>& filter, std::optional<uint32_t> owner,
              const Origin& origin) {
    if (filter.empty()) return true;
    // An owner unknown now (e.g. not yet accepted) is judged by who opened it.
    auto pid = owner ? owner : origin.pid;
    return pid && std::find(filter.begin(), filter.end(), static_cast<pid_t>(*pid)) != filter.end();
}

OwnerDetails owner_details(pid_t pid) {
    ProcessDetails p = read_process_details(pid);
    OwnerDetails d;
    d.cmdline = std::move(p.cmdline);
    if (p.namespaced_pid) d.pid_in_namespace = static_cast<uint32_t>(*p.namespaced_pid);
    d.cgroup = std::move(p.cgroup);
    d.container_id = std::move(p.container_id);
    return d;
}

}  // namespace

ReportBuilder::ReportBuilder(StackLookup stacks) : stacks_(std::move(stacks)) {}

void ReportBuilder::note_process(uint32_t pid, uint64_t task_start_ns) {
    auto [it, inserted] = maps_.try_emplace({pid, task_start_ns});
    if (!inserted) return;
    const auto p = static_cast<pid_t>(pid);
    // Read the maps between two identity checks, so they cannot belong to a reused pid.
    if (same_process(p, task_start_ns)) {
        auto maps = ProcessMaps::read(p);
        if (maps && same_process(p, task_start_ns)) it->second = std::move(maps);
    }
}

const std::vector<Frame>& ReportBuilder::kernel_frames(int32_t stack_id) {
    auto [it, inserted] = kernel_stacks_.try_emplace(stack_id);
    if (!inserted) return it->second;
    if (!kernel_symbols_) kernel_symbols_ = KernelSymbols::load();
    bool in_tracing = true;
    for (uint64_t ip : stacks_(stack_id)) {
        std::string name = kernel_symbols_->lookup(ip).value_or("[unknown]");
        if (in_tracing && is_tracing_frame(name)) continue;
        in_tracing = false;
        it->second.push_back({name, ""});
    }
    return it->second;
}

std::vector<Frame> ReportBuilder::user_frames(const cw_origin& origin,
                                              std::optional<uint32_t> unwound_id) {
    auto key = std::make_tuple(origin.pid, origin.task_start_ns, origin.user_stack_id,
                               origin.leaf_caller, origin.py_status, origin.py_stack_id,
                               unwound_id ? int64_t{*unwound_id} : int64_t{-1});
    if (auto it = user_stacks_.find(key); it != user_stacks_.end()) return it->second;
    // Dwarf mode: the stack unwound from the opening's copy, else the frame-pointer walk.
    std::optional<std::vector<Frame>> unwound;
    if (unwound_id) unwound = unwound_frames(origin, *unwound_id);
    std::vector<Frame> frames = unwound ? std::move(*unwound) : native_frames(origin);
    if (python_)
        if (auto python = python_(origin))
            frames = merge_python_frames(std::move(frames), std::move(*python));
    return user_stacks_[key] = std::move(frames);
}

std::vector<Frame> ReportBuilder::native_frames(const cw_origin& origin) {
    if (origin.user_stack_id < 0) return {};
    std::vector<uint64_t> ips = stacks_(origin.user_stack_id);
    note_process(origin.pid, origin.task_start_ns);
    const std::optional<ProcessMaps>& snapshot = maps_[{origin.pid, origin.task_start_ns}];
    if (!snapshot) {
        // The process exited before its mappings could be read: say so, never guess.
        return std::vector<Frame>(ips.size(), Frame{"[exited]", ""});
    }
    const ProcessMaps& maps = *snapshot;

    // A syscall wrapper without a frame hides its caller from a frame-pointer walk; the word
    // at the stack pointer restores it when it really is a return address.
    if (ips.size() >= 1 && origin.leaf_caller && (ips.size() < 2 || ips[1] != origin.leaf_caller)) {
        const Mapping* m = maps.find(origin.leaf_caller);
        if (m && follows_call(maps.open_path(*m), origin.leaf_caller - m->start + m->file_offset))
            ips.insert(ips.begin() + 1, origin.leaf_caller);
    }
    std::vector<Frame> frames;
    for (size_t i = 0; i < ips.size(); ++i) {
        // Outer frames are return addresses: look up the call instruction before them.
        frames.push_back(user_frame(origin, maps, i == 0 ? ips[i] : ips[i] - 1));
    }
    return frames;
}

Frame ReportBuilder::user_frame(const cw_origin& origin, const ProcessMaps& maps, uint64_t addr) {
    Frame frame = user_symbolizer_.symbolize(maps, addr);
    if (!frame.module.empty()) return frame;
    auto [it, fresh] = perf_maps_.try_emplace({origin.pid, origin.task_start_ns});
    const std::string path = PerfMap::path_for(static_cast<pid_t>(origin.pid));
    if (fresh) it->second = PerfMap::load(path);
    if (it->second) {
        if (auto name = it->second->lookup(addr)) {
            frame.function = *name;
            frame.module = path;
        }
    }
    return frame;
}

void ReportBuilder::note_user_stack(const UserStackRecord& record) {
    const cw_event_user_stack& h = record.head;
    note_process(h.pid, h.task_start_ns);
    const std::optional<ProcessMaps>& maps = maps_[{h.pid, h.task_start_ns}];
    if (!maps) return;
    StackSample sample{h.ip, h.sp, h.bp, h.tid, record.stack};
    std::vector<StackRead> reads;
    auto ips = unwinder_.unwind({h.pid, h.task_start_ns}, *maps, sample, CW_MAX_STACK_DEPTH,
                                publish_memo_ ? &reads : nullptr);
    if (ips.empty()) return;
    const uint32_t id = unwound_.add(h.hdr.sk, h.opened_ns, ips);
    if (!publish_memo_) return;
    if (auto memo = kernel_unwind_memo(h, reads, id, copy_limit_)) {
        publish_memo_(*memo);
        ++memos_published_;
    }
}

std::optional<std::vector<Frame>> ReportBuilder::unwound_frames(const cw_origin& origin,
                                                                uint32_t unwound_id) {
    const std::optional<ProcessMaps>& maps = maps_[{origin.pid, origin.task_start_ns}];
    if (!maps) return std::nullopt;
    const std::vector<uint64_t>& ips = unwound_.stack(unwound_id);
    std::vector<Frame> frames;
    for (size_t i = 0; i < ips.size(); ++i)
        frames.push_back(user_frame(origin, *maps, i == 0 ? ips[i] : ips[i] - 1));
    return frames;
}

SharedOrigin ReportBuilder::resolve_origin(const cw_origin& o, uint64_t sk,
                                           ResolvedOrigins& resolved) {
    if (kind_of(o.kind) == OriginKind::Unknown) return {};
    const auto unwound = unwound_stack(sk, o);
    const OriginKey key{o.kind,
                        o.pid,
                        o.tid,
                        std::string_view(o.comm, strnlen(o.comm, sizeof o.comm)),
                        o.task_start_ns,
                        o.user_stack_id,
                        o.kernel_stack_id,
                        o.leaf_caller,
                        o.py_status,
                        static_cast<int64_t>(o.py_stack_id),
                        unwound ? int64_t{*unwound} : int64_t{-1}};
    auto [it, fresh] = resolved.try_emplace(key);
    if (fresh) it->second = resolve_thread(o, unwound);
    return it->second;
}

Origin ReportBuilder::resolve_thread(const cw_origin& o, std::optional<uint32_t> unwound) {
    Origin origin;
    origin.kind = kind_of(o.kind);
    origin.pid = o.pid;
    origin.tid = o.tid;
    origin.comm = comm_of(o);
    if (o.kernel_stack_id >= 0) origin.kernel_stack = kernel_frames(o.kernel_stack_id);
    if (o.user_stack_id >= 0 || python_ || unwound) origin.user_stack = user_frames(o, unwound);
    return origin;
}

cw_flow flow_of(const DiagSocket& d) {
    cw_flow flow = {};
    std::memcpy(flow.saddr, d.saddr, sizeof flow.saddr);
    std::memcpy(flow.daddr, d.daddr, sizeof flow.daddr);
    flow.family = d.inet6 ? 10 : 2;
    flow.sport = d.sport;
    flow.dport = d.dport;
    return flow;
}

namespace {

Diagnosis diagnose(uint32_t recv_q) {
    if (recv_q == 0) return Diagnosis::EofReadNotClosed;
    return recv_q == 1 ? Diagnosis::EofNotRead : Diagnosis::UnreadData;
}

// An address as 16 bytes with IPv4 in the first 4, IPv4-mapped IPv6 addresses too, so that a
// dual-stack socket compares equal to the IPv4 listener it came through.
std::array<uint8_t, 16> plain_addr(const uint8_t (&addr)[16]) {
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    std::array<uint8_t, 16> out = {};
    if (std::memcmp(addr, kMapped, sizeof kMapped) == 0)
        std::memcpy(out.data(), addr + 12, 4);
    else
        std::memcpy(out.data(), addr, 16);
    return out;
}

// Where sockets listen now: a socket on a listener's address and port was accepted from it.
class Listeners {
  public:
    void add(const DiagSocket& d) {
        const auto addr = plain_addr(d.saddr);
        if (std::all_of(addr.begin(), addr.end(), [](uint8_t b) { return b == 0; }))
            any_addr_.insert(d.sport);
        else
            bound_.insert({addr, d.sport});
    }
    bool listening(const DiagSocket& d) const {
        return any_addr_.count(d.sport) || bound_.count({plain_addr(d.saddr), d.sport});
    }

  private:
    std::set<uint16_t> any_addr_;
    std::set<std::pair<std::array<uint8_t, 16>, uint16_t>> bound_;
};

// The ports connect() picks from (net.ipv4.ip_local_port_range; Linux's default if unreadable).
std::pair<uint16_t, uint16_t> ephemeral_ports() {
    std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
    unsigned low = 0, high = 0;
    if (in >> low >> high && low <= high && high <= 65535)
        return {static_cast<uint16_t>(low), static_cast<uint16_t>(high)};
    return {32768, 60999};
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

// Tells which candidate a dumped socket is: by inode (flows are unique within a network
// namespace only), or by flow for one tracked before it had an inode (in a listen queue then).
class CandidateIndex {
  public:
    explicit CandidateIndex(const std::vector<Candidate>& candidates) {
        by_inode_.reserve(candidates.size());
        for (uint32_t i = 0; i < candidates.size(); ++i) {
            const TrackedSocket& s = *candidates[i].socket;
            if (s.ino)
                by_inode_.emplace(s.ino, i);
            else
                by_flow_.emplace(s.flow, i);
        }
    }
    bool holds(uint64_t inode) const { return by_inode_.count(inode) > 0; }
    std::optional<uint32_t> find(uint64_t inode) const {
        auto it = by_inode_.find(inode);
        return it == by_inode_.end() ? std::nullopt : std::optional(it->second);
    }
    std::optional<uint32_t> find(const DiagSocket& d) const {
        if (auto at = d.inode ? find(d.inode) : std::nullopt) return at;
        auto it = by_flow_.find(flow_of(d));
        return it == by_flow_.end() ? std::nullopt : std::optional(it->second);
    }

  private:
    std::unordered_map<uint64_t, uint32_t> by_inode_;
    std::unordered_map<cw_flow, uint32_t, FlowHash, FlowEqual> by_flow_;
};

// Every socket in CLOSE_WAIT now, in every network namespace; a failed dump is said, and its
// sockets already visited stay visited.
void dump_close_wait(const DiagVisitor& visit) {
    auto visited = for_each_tcp_socket_everywhere(1u << CW_TCP_CLOSE_WAIT, visit);
    if (!visited)
        spdlog::warn("cannot list the sockets in CLOSE_WAIT: {}", visited.error().message);
    else if (visited->failed)
        spdlog::debug("sock_diag: {} network namespaces could not be listed (gone?)",
                      visited->failed);
}

// Every socket in CLOSE_WAIT now, in every network namespace, with its facts; the listening
// sockets are dumped first, to tell an accepted socket from a client's.
void for_each_close_wait(const std::function<void(const DiagSocket&, const SocketFacts&)>& visit) {
    Listeners listeners;
    auto listed = for_each_tcp_socket_everywhere(1u << CW_TCP_LISTEN,
                                                 [&](const DiagSocket& d) { listeners.add(d); });
    if (!listed) spdlog::debug("sock_diag: {}", listed.error().message);
    const std::pair<uint16_t, uint16_t> ephemeral = ephemeral_ports();  // lambdas (clang 14)
    const uint16_t low = ephemeral.first, high = ephemeral.second;
    dump_close_wait([&](const DiagSocket& d) {
        SocketFacts facts;
        facts.found = true;
        facts.recv_q = d.recv_q;
        facts.send_q = d.send_q;
        facts.has_tcp_info = d.tcp_info.has_value();
        if (d.tcp_info) facts.last_ack_recv_ms = d.tcp_info->last_ack_recv_ms;
        // A listener on its local endpoint: accepted. None, on a port connect() picks from: a
        // client's. Otherwise (a server that stopped listening?) not known.
        if (listeners.listening(d))
            facts.accepted = true;
        else if (d.sport >= low && d.sport <= high)
            facts.accepted = false;
        visit(d, facts);
    });
}

// Fills in what sock_diag says now of each candidate.
void look_up_close_wait(const CandidateIndex& index, std::vector<Candidate>& candidates) {
    for_each_close_wait([&](const DiagSocket& d, const SocketFacts& facts) {
        if (const auto at = index.find(d)) candidates[*at].seen = facts;
    });
}

}  // namespace

std::vector<DiagSocket> ReportBuilder::close_wait_now() {
    std::vector<DiagSocket> out;
    dump_close_wait([&](const DiagSocket& d) { out.push_back(d); });
    return out;
}

size_t ReportBuilder::forget_exited(const std::set<ProcessKey>& keep) {
    std::set<ProcessKey> gone;
    auto exited = [&](const ProcessKey& key) {
        if (keep.count(key)) return false;
        if (gone.count(key)) return true;
        if (same_process(static_cast<pid_t>(key.first), key.second)) return false;
        gone.insert(key);
        return true;
    };
    std::erase_if(maps_, [&](const auto& entry) { return exited(entry.first); });
    std::erase_if(perf_maps_, [&](const auto& entry) { return exited(entry.first); });
    std::erase_if(user_stacks_, [&](const auto& entry) {
        return exited({std::get<0>(entry.first), std::get<1>(entry.first)});
    });
    return gone.size();
}

HeldSockets ReportBuilder::find_holders(const InodeFilter& wanted) {
    if (owner_finder_) {
        if (auto held = owner_finder_(wanted)) return std::move(*held);
    }
    return find_socket_holders(wanted);
}

namespace {

// The owner field of each socket looked for, by its inode.
using OwnerSlots = std::vector<std::pair<uint64_t, pid_t*>>;

// Sets each socket's owner from its holders: the lowest pid of a shared socket, as the /proc
// pass has always said. Both sides sorted by inode and walked side by side: a million sockets,
// no hash map. Adds the owners' comms to `comms`.
void assign_owners(OwnerSlots slots, HeldSockets held,
                   std::unordered_map<pid_t, std::string>& comms) {
    std::sort(slots.begin(), slots.end());
    std::sort(held.begin(), held.end());  // by inode, then pid: a socket's lowest holder first
    std::set<pid_t> owners;
    auto h = held.begin();
    for (auto [ino, owner] : slots) {
        while (h != held.end() && h->first < ino) ++h;
        if (h == held.end()) break;
        if (h->first != ino) continue;
        if (!*owner || h->second < *owner) *owner = h->second;
        owners.insert(*owner);
    }
    for (pid_t pid : owners) {
        auto [it, added] = comms.try_emplace(pid);
        if (added) it->second = read_comm(pid);
    }
}

// The owner fields of the start's sockets that have an inode and no owner yet.
OwnerSlots ownerless(std::vector<StartSnapshot::Known>& known) {
    OwnerSlots slots;
    for (auto& k : known)
        if (k.ino && !k.owner) slots.emplace_back(k.ino, &k.owner);
    return slots;
}

// How many of the start's sockets have an owner.
size_t owned(const std::vector<StartSnapshot::Known>& known) {
    return std::count_if(known.begin(), known.end(), [](const auto& k) { return k.owner != 0; });
}

}  // namespace

StartSnapshot ReportBuilder::snapshot_at_start(
    const std::function<uint64_t(const DiagSocket&)>& add) {
    StartSnapshot out;
    // The BPF walk of the file tables finds every held socket in CLOSE_WAIT without being told
    // which: it runs beside the dump, each a CPU's work in front of a pile-up. The /proc pass
    // (no walk) keeps what the dump found only, so it comes after it; no socket found (the
    // common case) costs no pass at all.
    std::future<std::optional<HeldSockets>> walked;
    if (owner_finder_)
        walked = std::async(std::launch::async,
                            [this] { return owner_finder_([](uint64_t) { return true; }); });
    for_each_close_wait([&](const DiagSocket& d, const SocketFacts& facts) {
        const uint64_t key = add(d);
        if (!key) return;
        if (out.known.empty()) out.first_key = key;
        out.consecutive = out.consecutive && key == out.first_key + out.known.size();
        out.known.push_back({d.inode, facts, 0});
    });
    // At the end of the dump: ages grown since are counted from here, never more than the truth.
    timespec ts = {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    out.taken_ns = static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + ts.tv_nsec;
    spdlog::stopwatch watch;
    std::optional<HeldSockets> held;
    if (walked.valid()) held = walked.get();
    if (out.known.empty()) return out;
    out.known.shrink_to_fit();  // kept until the first report: no room to grow
    if (held) assign_owners(ownerless(out.known), std::move(*held), out.comms);
    // No walk: the /proc pass. A walk that missed some (they entered CLOSE_WAIT after it read
    // their holder's table): those are looked for again; one no process holds (not accepted
    // yet) is looked for in vain.
    if (OwnerSlots missing = ownerless(out.known); !missing.empty()) {
        std::unordered_set<uint64_t> inodes;
        for (auto [ino, owner] : missing) inodes.insert(ino);
        assign_owners(std::move(missing),
                      find_holders([&](uint64_t ino) { return inodes.count(ino) > 0; }), out.comms);
    }
    spdlog::debug(
        "start: {} sockets in CLOSE_WAIT, {} of their owners known {:.3f} s after "
        "the dump",
        out.known.size(), owned(out.known), watch);
    return out;
}

bool ReportBuilder::usable_for(const StartSnapshot& start, const SocketTable& table,
                               uint64_t now_ns, uint64_t max_age_ns) {
    if (now_ns < start.taken_ns || now_ns - start.taken_ns > max_age_ns) return false;
    bool all_seen = true;
    table.for_each([&](const TrackedSocket& s) {
        all_seen = all_seen && s.before_start && start.find(s.key, s.ino);
    });
    return all_seen;
}

Report ReportBuilder::build(const SocketTable& table, const ReportInput& input,
                            StartSnapshot* start) {
    spdlog::stopwatch watch;
    Report report;
    report.min_age_seconds = static_cast<double>(input.min_age_ns) / 1e9;
    report.tracing_seconds = input.tracing_seconds;
    report.stats = input.stats;

    std::vector<Candidate> candidates;
    candidates.reserve(table.size());
    table.for_each([&](const TrackedSocket& s) {
        candidates.push_back(Candidate{&s, {}, 0, 0, s.close_wait_since_ns, s.key});
    });
    std::unordered_map<pid_t, std::string> comms;
    if (start) {
        // Facts as of the snapshot; an idle socket's time since its last segment has grown since.
        const auto since_ms = static_cast<uint32_t>((input.now_ns - start->taken_ns) / 1'000'000);
        for (Candidate& c : candidates) {
            const StartSnapshot::Known& known = *start->find(c.socket->key, c.socket->ino);
            c.seen = known.facts;
            if (c.seen.has_tcp_info) c.seen.last_ack_recv_ms += since_ms;
            c.owner = known.owner;
        }
        comms = std::move(start->comms);
        *start = {};  // a million facts, not needed any more
        spdlog::debug("report: {} sockets, facts and owners from the start ({} ms ago)",
                      candidates.size(), since_ms);
    } else if (!candidates.empty()) {  // nothing tracked (a quiet host): no dump, no walk
        const CandidateIndex index(candidates);
        // The kernel's dump and the /proc scan are the two slow steps, and independent.
        auto dumped =
            std::async(std::launch::async, [&] { look_up_close_wait(index, candidates); });
        HeldSockets held = find_holders([&](uint64_t ino) { return index.holds(ino); });
        spdlog::debug("report: {} sockets in the table, their holders found in {:.3f} s",
                      candidates.size(), watch);
        dumped.get();
        spdlog::debug("report: sock_diag dump done at {:.3f} s", watch);
        OwnerSlots slots;
        for (Candidate& c : candidates)
            if (c.socket->ino) slots.emplace_back(c.socket->ino, &c.owner);
        assign_owners(std::move(slots), std::move(held), comms);
    }

    // Oldest first, by the best age known; ordered before the entries are built, which are
    // large to move. Sockets found by sock_diag are judged by their estimated age, others by the
    // traced one.
    auto traced_age = [&](const TrackedSocket& s) {
        return static_cast<double>(input.now_ns - std::min(input.now_ns, s.close_wait_since_ns)) /
               1e9;
    };
    for (Candidate& c : candidates) {
        const bool estimated = c.socket->untraced && c.seen.has_tcp_info;
        c.age = estimated ? c.seen.last_ack_recv_ms / 1e3 : traced_age(*c.socket);
    }
    std::erase_if(candidates, [&](const Candidate& c) { return c.age < report.min_age_seconds; });
    // Ties (the same age) in the table's order: the longest traced first, then by key.
    std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
        if (a.age != b.age) return a.age > b.age;
        if (a.since_ns != b.since_ns) return a.since_ns < b.since_ns;
        return a.key < b.key;
    });
    std::unordered_map<uint32_t, std::shared_ptr<const OwnerDetails>> details;
    ResolvedOrigins resolved;

    report.sockets.reserve(candidates.size());
    for (size_t i = 0; i < candidates.size(); ++i) {
        const Candidate& c = candidates[i];
        const TrackedSocket* s = c.socket;
        // In age order the sockets are all over memory: ask for one a few steps ahead.
        if (i + 8 < candidates.size()) __builtin_prefetch(candidates[i + 8].socket);
        SocketEntry entry;
        entry.close_wait_seconds = traced_age(*s);
        entry.before_start = s->before_start;
        if (c.seen.found) {
            entry.recv_q = c.seen.recv_q;
            entry.send_q = c.seen.send_q;
            entry.diagnosis = diagnose(c.seen.recv_q);
            entry.accepted = c.seen.accepted;
            if (s->untraced && c.seen.has_tcp_info)
                entry.age_estimate_seconds = c.seen.last_ack_recv_ms / 1e3;
        }
        if (c.owner) {
            entry.pid = static_cast<uint32_t>(c.owner);
            entry.comm = comms[c.owner];
            auto [d, fresh] = details.try_emplace(*entry.pid);
            if (fresh) d->second = std::make_shared<const OwnerDetails>(owner_details(c.owner));
            entry.owner = d->second;
        }
        if (s->origin) entry.origin = resolve_origin(*s->origin, s->key, resolved);
        if (!selected(input.pid_filter, entry.pid, entry.origin)) continue;
        entry.inet6 = s->inet6();
        entry.local = {s->inet6(), s->flow.saddr, s->flow.sport};
        entry.remote = {s->inet6(), s->flow.daddr, s->flow.dport};
        report.sockets.push_back(std::move(entry));
    }
    spdlog::debug("report: {} sockets built at {:.3f} s", report.sockets.size(), watch);
    return report;
}

}  // namespace cwtrace
