// A time budget on a call that may block for as long as another process likes: an open() of a
// file its FUSE daemon never answers, a process_vm_readv of memory mapped from one. The call
// runs in a reader process (forked from cwtrace, holding nothing of it: no descriptor, no BPF
// map) and the caller waits at most a deadline for its reply. A late reader is killed and left
// to its call: a thread could not be, since the kernel waits out a FUSE request its daemon has
// read without ever letting the waiter go (not even for SIGKILL), and one such thread keeps the
// whole of cwtrace (its descriptors, BPF links, exit status) until the daemon answers. A
// reader process can be abandoned; the next call forks a new one. Abandoned readers not yet
// gone are counted, so that callers can refuse risky calls outright once too many are stuck.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cwtrace {

// What a reader sends back: bytes, and a descriptor it opened (-1: none).
struct ReaderReply {
    std::string bytes;
    int fd = -1;  // the caller's to close
};

// What a reply may hold, in bytes.
inline constexpr size_t kMaxReaderReply = 128 << 10;

// Told by an operation as it goes: the device it reached (its fstat), so that a hang after it
// is blamed on that filesystem.
using ReachedDevice = std::function<void(uint64_t dev)>;

// An operation a reader runs: `args` as the caller sent them, `fd` a descriptor lent with them
// (-1: none). Registered at start (static initialization), before any reader is forked.
using ReaderOperation =
    std::function<ReaderReply(std::string_view args, int fd, const ReachedDevice& reached)>;
uint32_t register_reader_operation(ReaderOperation operation);

class ReaderProcess {
  public:
    struct Limits {
        std::chrono::milliseconds deadline{250};
        size_t max_abandoned = 16;  // stuck readers past which risky calls are refused
        // Sent to a late reader: it dies at once unless its call is one the kernel waits out
        // (then as soon as that call ends). 0: none (a test's reader stuck until it lets go).
        int stop_signal = 9;
    };
    explicit ReaderProcess(Limits limits) : limits_(limits) {}
    ~ReaderProcess();  // stops the idle reader; stuck ones are left to their calls
    ReaderProcess(const ReaderProcess&) = delete;
    ReaderProcess& operator=(const ReaderProcess&) = delete;

    // The reply of `operation` in a reader, or nullopt: `late` when none came within the
    // deadline (the reader is then abandoned), else no reader could be started or it failed.
    // `reached`: the device the operation said it reached. One call at a time (start-up work
    // runs in threads).
    std::optional<ReaderReply> call(uint32_t operation, std::string_view args, int lend_fd,
                                    uint64_t& reached, bool& late);

    // Readers abandoned and not yet gone (reaped here).
    size_t abandoned();
    bool exhausted() { return abandoned() >= limits_.max_abandoned; }
    const Limits& limits() const { return limits_; }

  private:
    bool start();
    void abandon();
    std::optional<ReaderReply> await_reply(uint64_t& reached, bool& late);

    Limits limits_;
    pid_t pid_ = -1;   // the idle reader
    int socket_ = -1;  // to it
    std::vector<pid_t> abandoned_;
    std::mutex mutex_;
};

// Serializing a call's arguments and reply: fixed-width numbers and length-prefixed strings.
class Bytes {
  public:
    Bytes() = default;
    explicit Bytes(std::string_view in) : in_(in) {}
    Bytes& put(uint64_t n);
    Bytes& put(std::string_view s);
    std::string take() { return std::move(out_); }
    // Reading back; false once anything was missing.
    uint64_t number();
    std::string_view text();
    bool ok() const { return ok_; }

  private:
    std::string out_;
    std::string_view in_;
    bool ok_ = true;
};

}  // namespace cwtrace
