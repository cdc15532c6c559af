// Go processes watched for the creators of their goroutines (told to the kernel side through
// go_procs), and the code locations a captured creator stands for.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "cwtrace/abi.h"
#include "golang/go_process.h"

namespace cwtrace {

// One location of a creating goroutine: `generation` 1 is the goroutine that created the one
// that opened the socket, 2 its own creator. Every pc is a return address (as the runtime saves
// them): the call is the instruction before it.
struct CreatorPc {
    uint64_t pc = 0;
    uint8_t generation = 0;
    bool operator==(const CreatorPc&) const = default;
};

// The creators' locations, innermost first. With the ancestors' stacks (tracebackancestors),
// each creator's stack from the frame that ran the go statement outwards (the runtime frames
// that recorded it are dropped); without, the go statement alone ("created by"). The main
// goroutine is nobody's creation: nothing follows it.
std::vector<CreatorPc> creator_pcs(const cw_go_creator& creator);

class GoTracker {
  public:
    // Looks whether `pid` (started at `start` ticks, mapped as `maps`) runs a Go program; its
    // go_procs entry when its version is supported. Remembered, so the report can say "go X.Y
    // not supported" once.
    std::optional<cw_go_proc> inspect(pid_t pid, uint64_t start, const ProcessMaps& maps);
    size_t processes() const { return processes_.size(); }

  private:
    std::map<std::pair<uint32_t, uint64_t>, std::optional<GoProgram>> processes_;
};

}  // namespace cwtrace
