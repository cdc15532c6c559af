// What a read of a file or memory another process controls may cost: at most a time budget,
// in a reader process (reader_process.h), and never twice on one filesystem
// (slow_filesystems.h). A file on a FUSE filesystem whose daemon never answers costs its name,
// not the loop that drains the kernel's ring buffers and refreshes /metrics.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/reader_process.h"
#include "util/slow_filesystems.h"

namespace cwtrace {

class HangGuard {
  public:
    // A device number no call reached (yet).
    static constexpr uint64_t kNoDevice = ~uint64_t{0};

    HangGuard(ReaderProcess::Limits limits, SlowFilesystems::ProcReader read);

    // Where a call goes: its file's device when known before it (a maps line gives it), and the
    // process whose mount table may be the only one to name that device.
    struct Target {
        std::optional<uint64_t> dev;
        pid_t pid = 0;
    };

    // The reply of `operation` (registered with register_reader_operation), run in the reader
    // under the budget; nullopt with `why` set when it was refused (its filesystem did not
    // answer before; too many readers are stuck and it may be served by a process) or did not
    // reply in time (the filesystem it was on, or reached, is then remembered); `slow` (when
    // given) tells those from a reader that failed.
    std::optional<ReaderReply> call(const Target& target, uint32_t operation, std::string_view args,
                                    int lend_fd, std::string& why, bool* slow = nullptr);

    // Whether reads on `dev` may wait on a process (slow_filesystems.h).
    bool served(uint64_t dev, pid_t pid) const { return filesystems_.served(dev, pid); }
    bool slow(uint64_t dev) const { return filesystems_.slow(dev); }
    ReaderProcess& reader() { return reader_; }

  private:
    ReaderProcess reader_;
    SlowFilesystems filesystems_;
};

// The guard every reader of what another process controls goes through (one budget, one bound
// on stuck readers, one memory of slow filesystems).
HangGuard& hang_guard();

}  // namespace cwtrace
