// The sockets in CLOSE_WAIT at start, with their facts and owners, from one sock_diag dump and
// one pass over the holders. A report taken soon after, of these sockets only, uses them
// instead of dumping and scanning again: in front of a million sockets that is seconds.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "owners/owner_finder.h"
#include "sockets/close_wait_scan.h"
#include "sockets/sock_diag.h"
#include "sockets/socket_table.h"

namespace cwtrace {

struct StartSnapshot {
    uint64_t taken_ns = 0;  // CLOCK_MONOTONIC
    struct Known {
        uint64_t ino = 0;
        SocketFacts facts;
        pid_t owner = 0;  // 0: no process holds it
    };
    // By table key: the sockets found were given the consecutive keys first_key, first_key + 1,
    // ... (a million entries in one array, no hash map to fill and look up).
    uint64_t first_key = 0;
    std::vector<Known> known;
    bool consecutive = true;  // false: the keys were not, and nothing here can be used
    std::unordered_map<pid_t, std::string> comms;  // of the owners

    // What is known of the socket of table key `key` and inode `ino`, or nullptr.
    const Known* find(uint64_t key, uint64_t ino) const {
        if (!consecutive || !ino || key < first_key || key - first_key >= known.size())
            return nullptr;
        const Known& k = known[key - first_key];
        return k.ino == ino ? &k : nullptr;
    }
};

// The sockets in CLOSE_WAIT now, each handed to `add` as the dump lists it, and the facts and
// owners (found by `owners`) of those it added: `add` returns the table key it gave one, 0 when
// it did not.
StartSnapshot snapshot_at_start(OwnerFinder& owners,
                                const std::function<uint64_t(const DiagSocket&)>& add);

// Whether a report of `table` at `now_ns` may use `start`: taken at most `max_age_ns` ago, and
// every tracked socket one it saw.
bool usable_for(const StartSnapshot& start, const SocketTable& table, uint64_t now_ns,
                uint64_t max_age_ns);

}  // namespace cwtrace
