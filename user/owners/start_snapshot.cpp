// The start-of-run snapshot: the CLOSE_WAIT scan and the owners of what it found, taken once.
#include "owners/start_snapshot.h"

#include <spdlog/spdlog.h>
#include <spdlog/stopwatch.h>

#include <algorithm>
#include <future>
#include <optional>
#include <unordered_set>

#include "util/clock.h"

namespace cwtrace {
namespace {

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

StartSnapshot snapshot_at_start(OwnerFinder& owners,
                                const std::function<uint64_t(const DiagSocket&)>& add) {
    StartSnapshot out;
    // The BPF walk of the file tables finds every held socket in CLOSE_WAIT without being told
    // which: it runs beside the dump, each a CPU's work in front of a pile-up. The /proc pass
    // (no walk) keeps what the dump found only, so it comes after it; no socket found (the
    // common case) costs no pass at all.
    std::future<std::optional<HeldSockets>> walked = std::async(
        std::launch::async, [&owners] { return owners.walk([](uint64_t) { return true; }); });
    for_each_close_wait([&](const DiagSocket& d, const SocketFacts& facts) {
        const uint64_t key = add(d);
        if (!key) return;
        if (out.known.empty()) out.first_key = key;
        out.consecutive = out.consecutive && key == out.first_key + out.known.size();
        out.known.push_back({d.inode, facts, 0});
    });
    // At the end of the dump: ages grown since are counted from here, never more than the truth.
    out.taken_ns = monotonic_ns();
    spdlog::stopwatch watch;
    std::optional<HeldSockets> held = walked.get();
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
                      owners.find_holders([&](uint64_t ino) { return inodes.count(ino) > 0; }),
                      out.comms);
    }
    spdlog::debug(
        "start: {} sockets in CLOSE_WAIT, {} of their owners known {:.3f} s after "
        "the dump",
        out.known.size(), owned(out.known), watch);
    return out;
}

bool usable_for(const StartSnapshot& start, const SocketTable& table, uint64_t now_ns,
                uint64_t max_age_ns) {
    if (now_ns < start.taken_ns || now_ns - start.taken_ns > max_age_ns) return false;
    bool all_seen = true;
    table.for_each([&](const TrackedSocket& s) {
        all_seen = all_seen && s.before_start && start.find(s.key, s.ino);
    });
    return all_seen;
}

}  // namespace cwtrace
