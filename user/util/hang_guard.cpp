// Budgeted reads of what another process controls, as hang_guard.h says.
#include "util/hang_guard.h"

#include "util/fields.h"

namespace cwtrace {
namespace {

// mountinfo is procfs text: a few KB, a few MB with thousands of mounts.
constexpr size_t kMaxMountinfoBytes = 16 << 20;

std::optional<std::string> read_mountinfo(const std::string& path) {
    bool cut = false;
    return read_procfs_text(path, kMaxMountinfoBytes, cut);
}

}  // namespace

HangGuard::HangGuard(ReaderProcess::Limits limits, SlowFilesystems::ProcReader read)
    : reader_(limits), filesystems_(std::move(read)) {}

std::optional<ReaderReply> HangGuard::call(const Target& target, uint32_t operation,
                                           std::string_view args, int lend_fd, std::string& why,
                                           bool* slow) {
    if (slow) *slow = true;
    if (target.dev && filesystems_.slow(*target.dev)) {
        why = "on a filesystem that did not answer before";
        return std::nullopt;
    }
    // Past the bound no reader is risked on what a process may serve; other files still run.
    if (reader_.exhausted() && (!target.dev || filesystems_.served(*target.dev, target.pid))) {
        why = std::to_string(reader_.abandoned()) +
              " earlier reads still unanswered; not risking another";
        return std::nullopt;
    }
    uint64_t reached = kNoDevice;
    bool late = false;
    auto reply = reader_.call(operation, args, lend_fd, reached, late);
    if (reply) return reply;
    if (!late) {
        if (slow) *slow = false;
        why = "the reader process failed";
        return std::nullopt;
    }
    // Only a filesystem a process may serve is remembered: a local one late once (a loaded
    // host, a slow disk, a VM without acceleration) would otherwise cost every name on it, the
    // root's included, for the rest of the run; late there, the call costs its own name.
    const uint64_t dev = target.dev ? *target.dev : reached;
    if (dev != kNoDevice && filesystems_.served(dev, target.pid)) filesystems_.mark_slow(dev);
    why = "no answer within " + std::to_string(reader_.limits().deadline.count()) + " ms";
    return std::nullopt;
}

// 1 s: an open of a local file takes microseconds (a cold disk a few ms), but the reader is a
// process the scheduler must run, on the loaded hosts where leaks pile up (250 ms was exceeded
// under QEMU without acceleration beside other work); and the loop draining the ring buffers,
// stalled this long once per slow filesystem (at most 16 times before files a process may serve
// are refused outright: 16 s in a whole run), stays inside what they hold.
HangGuard& hang_guard() {
    static HangGuard guard({std::chrono::milliseconds(1000), 16, 9}, read_mountinfo);
    return guard;
}

}  // namespace cwtrace
