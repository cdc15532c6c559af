// Socket table + facts + owners + stacks -> Report (pure data for the renderers).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "model/report.h"
#include "owners/owner_finder.h"
#include "owners/start_snapshot.h"
#include "report/socket_filter.h"
#include "report/stack_resolver.h"
#include "sockets/close_wait_scan.h"
#include "sockets/socket_table.h"

namespace cwtrace {

struct ReportInput {
    uint64_t now_ns = 0;  // CLOCK_MONOTONIC, the clock of the kernel's timestamps
    uint64_t min_age_ns = 0;
    double tracing_seconds = 0;
    std::vector<pid_t> pid_filter;  // empty: every owner
    SocketFilter filter;            // the other filters (--port, --comm, ...)
    Stats stats;
    ProgressFn progress;  // hears of the sockets built, of all (their stacks symbolized)
    // The sockets in CLOSE_WAIT as a dump taken for this report listed them (after a loss, or
    // with --pid); null: the builder dumps them itself.
    const std::vector<DumpedSocket>* dumped = nullptr;
    // The holders of every socket in CLOSE_WAIT, found for this report after the table's last
    // socket entered it (taken: moved from); null: the builder finds those of its sockets.
    HeldSockets* held = nullptr;
};

class ReportBuilder {
  public:
    // `stacks` resolves the openers' paths, `owners` finds who holds the sockets; both outlive
    // the builder.
    ReportBuilder(StackResolver& stacks, OwnerFinder& owners) : stacks_(stacks), owners_(owners) {}

    // With `start`, the facts and owners it holds stand for a new dump and /proc pass; every
    // tracked socket must be in it (see usable_for()). It is emptied on the way (memory).
    Report build(const SocketTable& table, const ReportInput& input,
                 StartSnapshot* start = nullptr);

  private:
    StackResolver& stacks_;
    OwnerFinder& owners_;
};

}  // namespace cwtrace
