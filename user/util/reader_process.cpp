// Calls in a reader process under a deadline, as reader_process.h says.
#include "util/reader_process.h"

#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>

namespace cwtrace {
namespace {

// A message's bytes at most: operations reply with less (memory is read in pieces).
constexpr size_t kMaxMessage = 256 << 10;
constexpr char kReached = 'R', kDone = 'D';

std::vector<ReaderOperation>& operations() {
    static std::vector<ReaderOperation> registered;
    return registered;
}

bool send_message(int socket, std::string_view bytes, int fd) {
    iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    if (fd >= 0) {
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    return ::sendmsg(socket, &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

// One message and the descriptor it carried (-1: none); nullopt at EOF or on an error.
std::optional<std::string> receive_message(int socket, int& fd) {
    std::string bytes(kMaxMessage + 64, '\0');
    iovec iov{bytes.data(), bytes.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    fd = -1;
    ssize_t n;
    do n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
            std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
    if (n <= 0) {
        if (fd >= 0) ::close(fd);
        return std::nullopt;
    }
    bytes.resize(static_cast<size_t>(n));
    return bytes;
}

// The reader holds nothing of cwtrace's that would outlive cwtrace through it, should it be
// stuck: no descriptor but its socket (stdout and stderr included: whoever reads them waits
// for their end), no mapping of a BPF map (a ring buffer mapped keeps its map).
void drop_what_is_cwtraces(int keep) {
    for (int fd = 0; fd < keep; ++fd) ::close(fd);
    ::close_range(static_cast<unsigned>(keep) + 1, ~0U, 0);
    std::ifstream maps("/proc/self/maps");
    std::vector<std::pair<uintptr_t, uintptr_t>> bpf;
    for (std::string line; std::getline(maps, line);) {
        unsigned long start = 0, end = 0;
        if (line.find("anon_inode:bpf") != std::string::npos &&
            std::sscanf(line.c_str(), "%lx-%lx", &start, &end) == 2)
            bpf.emplace_back(start, end);
    }
    for (auto [start, end] : bpf) ::munmap(reinterpret_cast<void*>(start), end - start);
}

[[noreturn]] void serve(int socket) {
    drop_what_is_cwtraces(socket);
    // An idle reader goes with cwtrace: its socket's other end closes. (Not PR_SET_PDEATHSIG:
    // that follows the thread that forked it, and start-up work runs in threads that end.)
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) ::signal(sig, SIG_DFL);
    for (;;) {
        int lent = -1;
        auto request = receive_message(socket, lent);
        if (!request) ::_exit(0);  // cwtrace closed its end
        Bytes in(*request);
        const uint64_t op = in.number();
        ReaderReply reply;
        if (in.ok() && op < operations().size())
            reply = operations()[op](in.text(), lent, [socket](uint64_t dev) {
                send_message(socket, Bytes().put(kReached).put(dev).take(), -1);
            });
        if (lent >= 0) ::close(lent);
        const bool sent =
            send_message(socket, Bytes().put(kDone).put(reply.bytes).take(), reply.fd);
        if (reply.fd >= 0) ::close(reply.fd);
        if (!sent) ::_exit(0);
    }
}

}  // namespace

uint32_t register_reader_operation(ReaderOperation operation) {
    operations().push_back(std::move(operation));
    return static_cast<uint32_t>(operations().size() - 1);
}

bool ReaderProcess::start() {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) return false;
    // The reader is forked (not a thread: see reader_process.h) from the thread calling; it
    // runs only the registered operations, which take no lock another thread may hold.
    const pid_t pid = ::fork();
    if (pid < 0) {
        ::close(pair[0]);
        ::close(pair[1]);
        return false;
    }
    if (pid == 0) serve(pair[1]);
    ::close(pair[1]);
    pid_ = pid;
    socket_ = pair[0];
    return true;
}

void ReaderProcess::abandon() {
    if (limits_.stop_signal) ::kill(pid_, limits_.stop_signal);
    ::close(socket_);
    abandoned_.push_back(pid_);
    pid_ = -1;
    socket_ = -1;
}

ReaderProcess::~ReaderProcess() {
    if (pid_ < 0) return;
    ::close(socket_);  // the idle reader's next read ends: it exits
    ::waitpid(pid_, nullptr, 0);
}

size_t ReaderProcess::abandoned() {
    std::lock_guard lock(mutex_);
    std::erase_if(abandoned_, [](pid_t pid) { return ::waitpid(pid, nullptr, WNOHANG) != 0; });
    return abandoned_.size();
}

std::optional<ReaderReply> ReaderProcess::call(uint32_t operation, std::string_view args,
                                               int lend_fd, uint64_t& reached, bool& late) {
    std::lock_guard one_at_a_time(mutex_);
    late = false;
    // A reader that died idle (killed by someone, out of memory) is replaced once: that is no
    // slow filesystem.
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (pid_ < 0 && !start()) return std::nullopt;
        if (!send_message(socket_, Bytes().put(operation).put(args).take(), lend_fd)) {
            abandon();
            continue;
        }
        return await_reply(reached, late);
    }
    return std::nullopt;
}

std::optional<ReaderReply> ReaderProcess::await_reply(uint64_t& reached, bool& late) {
    const auto deadline = std::chrono::steady_clock::now() + limits_.deadline;
    for (;;) {
        // Rounded up: the whole budget is waited, never a fraction of a millisecond less.
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd p{socket_, POLLIN, 0};
        const int ready = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
        if (ready < 0 && errno == EINTR) continue;
        late = ready == 0;
        int fd = -1;
        auto message = ready > 0 ? receive_message(socket_, fd) : std::nullopt;
        if (!message) {
            abandon();
            return std::nullopt;
        }
        Bytes in(*message);
        const uint64_t kind = in.number();
        if (kind == static_cast<uint64_t>(kReached)) {
            reached = in.number();
            continue;
        }
        const std::string_view bytes = in.text();
        if (kind != static_cast<uint64_t>(kDone) || !in.ok()) {
            if (fd >= 0) ::close(fd);
            abandon();
            return std::nullopt;
        }
        return ReaderReply{std::string(bytes), fd};
    }
}

Bytes& Bytes::put(uint64_t n) {
    out_.append(reinterpret_cast<const char*>(&n), sizeof n);
    return *this;
}

Bytes& Bytes::put(std::string_view s) {
    put(static_cast<uint64_t>(s.size()));
    out_.append(s);
    return *this;
}

uint64_t Bytes::number() {
    uint64_t n = 0;
    if (in_.size() < sizeof n) {
        ok_ = false;
        return 0;
    }
    std::memcpy(&n, in_.data(), sizeof n);
    in_.remove_prefix(sizeof n);
    return n;
}

std::string_view Bytes::text() {
    const uint64_t size = number();
    if (!ok_ || size > in_.size()) {
        ok_ = false;
        return {};
    }
    std::string_view s = in_.substr(0, size);
    in_.remove_prefix(size);
    return s;
}

}  // namespace cwtrace
