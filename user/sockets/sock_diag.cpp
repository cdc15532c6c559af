#include "sockets/sock_diag.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>
#include <thread>
#include <type_traits>

namespace cwtrace {
namespace {

// The kernel caps one dump datagram near 32 KiB (netlink_recvmsg clamps max_recvmsg_len);
// a larger buffer is harmless and MSG_TRUNC still guards against a future change.
constexpr size_t kRecvBufferBytes = 64 * 1024;
constexpr int kRecvTimeoutSeconds = 10;  // a dump that stalls this long is an error, not a hang

// Copies a T out of possibly unaligned bytes; the caller has checked the size.
template <typename T>
T load(const std::byte* at) {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    std::memcpy(&value, at, sizeof value);
    return value;
}

// The tcp_info prefix every kernel since 2.6 sends, through tcpi_total_retrans.
constexpr size_t kTcpInfoMinBytes = offsetof(struct tcp_info, tcpi_total_retrans) + sizeof(__u32);

std::optional<DiagTcpInfo> parse_tcp_info(std::span<const std::byte> payload) {
    if (payload.size() < kTcpInfoMinBytes) return std::nullopt;
    struct tcp_info raw = {};  // fields a shorter (older) kernel's struct lacks stay 0
    std::memcpy(&raw, payload.data(), std::min(payload.size(), sizeof raw));
    DiagTcpInfo info;
    info.last_data_recv_ms = raw.tcpi_last_data_recv;
    info.last_ack_recv_ms = raw.tcpi_last_ack_recv;
    info.last_data_sent_ms = raw.tcpi_last_data_sent;
    info.rtt_us = raw.tcpi_rtt;
    info.unacked = raw.tcpi_unacked;
    info.total_retrans = raw.tcpi_total_retrans;
    info.bytes_received = raw.tcpi_bytes_received;
    info.bytes_acked = raw.tcpi_bytes_acked;
    info.data_segs_in = raw.tcpi_data_segs_in;
    info.data_segs_out = raw.tcpi_data_segs_out;
    return info;
}

// Walks the rtattrs after the inet_diag_msg; false when one is malformed.
bool parse_attributes(std::span<const std::byte> attrs, DiagSocket& socket) {
    while (attrs.size() >= sizeof(struct rtattr)) {
        const auto attr = load<struct rtattr>(attrs.data());
        if (attr.rta_len < sizeof(struct rtattr) || attr.rta_len > attrs.size()) return false;
        auto payload = attrs.subspan(RTA_LENGTH(0), attr.rta_len - RTA_LENGTH(0));
        if (attr.rta_type == INET_DIAG_INFO) socket.tcp_info = parse_tcp_info(payload);
        // The last attribute of a message may omit its alignment padding.
        attrs = attrs.subspan(std::min<size_t>(RTA_ALIGN(attr.rta_len), attrs.size()));
    }
    return true;  // fewer than 4 trailing bytes can only be padding
}

// One SOCK_DIAG_BY_FAMILY message body; false when malformed.
bool parse_socket(std::span<const std::byte> body, std::vector<DiagSocket>& out) {
    if (body.size() < sizeof(struct inet_diag_msg)) return false;
    const auto msg = load<struct inet_diag_msg>(body.data());
    if (msg.idiag_family != AF_INET && msg.idiag_family != AF_INET6) return true;  // not ours

    DiagSocket socket;
    socket.inet6 = msg.idiag_family == AF_INET6;
    const size_t addr_bytes = socket.inet6 ? 16 : 4;
    std::memcpy(socket.saddr, msg.id.idiag_src, addr_bytes);
    std::memcpy(socket.daddr, msg.id.idiag_dst, addr_bytes);
    socket.sport = ntohs(msg.id.idiag_sport);
    socket.dport = ntohs(msg.id.idiag_dport);
    socket.state = msg.idiag_state;
    socket.inode = msg.idiag_inode;
    socket.uid = msg.idiag_uid;
    socket.recv_q = msg.idiag_rqueue;
    socket.send_q = msg.idiag_wqueue;
    socket.cookie = uint64_t{msg.id.idiag_cookie[0]} | uint64_t{msg.id.idiag_cookie[1]} << 32;
    static_assert(sizeof msg % NLMSG_ALIGNTO == 0, "attributes follow the message directly");
    if (!parse_attributes(body.subspan(sizeof msg), socket)) return false;
    out.push_back(socket);
    return true;
}

// NLMSG_DONE and NLMSG_ERROR carry an int status (negative errno) first.
DiagParseResult status_message(std::span<const std::byte> body, DiagParseStatus ok_status) {
    if (body.size() < sizeof(int)) {
        // A bare NLMSG_DONE is a clean end; an NLMSG_ERROR must say which error.
        if (ok_status == DiagParseStatus::Done) return {ok_status, 0};
        return {DiagParseStatus::Malformed, 0};
    }
    const int status = load<int>(body.data());
    if (status == INT_MIN)
        return {DiagParseStatus::Malformed, 0};  // no errno, and -status overflows
    if (status < 0) return {DiagParseStatus::KernelError, -status};
    return {ok_status, 0};
}

class NetlinkFd {
  public:
    explicit NetlinkFd(int fd) : fd_(fd) {}
    NetlinkFd(const NetlinkFd&) = delete;
    NetlinkFd& operator=(const NetlinkFd&) = delete;
    ~NetlinkFd() {
        if (fd_ >= 0) close(fd_);
    }
    int get() const { return fd_; }

  private:
    int fd_;
};

Error errno_error(const std::string& what, int err, std::string hint = {}) {
    return Error{what + ": " + std::strerror(err), std::move(hint)};
}

Result<void> send_dump_request(int fd, uint8_t family, uint32_t state_mask) {
    struct Request {
        struct nlmsghdr header;
        struct inet_diag_req_v2 body;
    } request = {};
    request.header.nlmsg_len = sizeof request;
    request.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    request.header.nlmsg_seq = 1;
    request.body.sdiag_family = family;
    request.body.sdiag_protocol = IPPROTO_TCP;
    request.body.idiag_ext = 1u << (INET_DIAG_INFO - 1);
    request.body.idiag_states = state_mask;

    struct sockaddr_nl kernel = {};
    kernel.nl_family = AF_NETLINK;
    for (;;) {
        const ssize_t n = sendto(fd, &request, sizeof request, 0,
                                 reinterpret_cast<struct sockaddr*>(&kernel), sizeof kernel);
        const int err = n < 0 ? errno : EMSGSIZE;
        if (n == static_cast<ssize_t>(sizeof request)) return Ok{};
        if (n < 0 && err == EINTR) continue;
        return errno_error("sock_diag: sending the dump request", err);
    }
}

Error kernel_error(int err) {
    std::string hint;
    if (err == ENOENT || err == EOPNOTSUPP)
        hint = "the kernel has no TCP sock_diag support loaded: try `modprobe tcp_diag`";
    return errno_error("sock_diag: the kernel refused the TCP dump", err, std::move(hint));
}

// Reads datagrams until NLMSG_DONE, handing each socket to `visit`.
Result<void> read_dump(int fd, const DiagVisitor& visit) {
    std::vector<std::byte> buffer(kRecvBufferBytes);
    std::vector<DiagSocket> batch;  // one datagram's sockets, reused
    for (;;) {
        struct sockaddr_nl sender = {};
        struct iovec iov = {buffer.data(), buffer.size()};
        struct msghdr msg = {};
        msg.msg_name = &sender;
        msg.msg_namelen = sizeof sender;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        const ssize_t n = recvmsg(fd, &msg, 0);
        const int err = errno;
        if (n < 0 && err == EINTR) continue;
        if (n < 0)
            return errno_error("sock_diag: reading the dump", err,
                               err == EAGAIN ? "the kernel stopped answering" : "");
        if (n == 0) return Error{"sock_diag: the dump ended without NLMSG_DONE", {}};
        if (msg.msg_flags & MSG_TRUNC) return Error{"sock_diag: a dump datagram was truncated", {}};
        if (sender.nl_pid != 0) continue;  // not from the kernel

        batch.clear();
        auto parsed = parse_diag_messages(std::span(buffer.data(), static_cast<size_t>(n)), batch);
        for (const DiagSocket& socket : batch) visit(socket);
        switch (parsed.status) {
            case DiagParseStatus::More:
                continue;
            case DiagParseStatus::Done:
                return Ok{};
            case DiagParseStatus::KernelError:
                return kernel_error(parsed.error);
            case DiagParseStatus::Malformed:
                return Error{"sock_diag: malformed dump message from the kernel", {}};
        }
    }
}

int open_diag_socket() { return socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG); }

// A netlink socket answers for the network namespace it was opened in. setns() moves only the
// calling thread, so a short-lived thread enters the namespace, opens it and ends; ours stays put.
int open_diag_socket_in(int netns_fd, int& err) {
    int fd = -1;
    std::thread([&] {
        if (setns(netns_fd, CLONE_NEWNET) != 0) {
            err = errno;
            return;
        }
        fd = open_diag_socket();
        err = errno;
    }).join();
    return fd;
}

// One dump request, on a netlink socket of its own, read to its end.
Result<void> dump_family(uint8_t family, uint32_t state_mask, const DiagVisitor& visit,
                         int netns_fd) {
    int err = 0;
    NetlinkFd fd(netns_fd < 0 ? open_diag_socket() : open_diag_socket_in(netns_fd, err));
    if (netns_fd < 0) err = errno;
    if (fd.get() < 0)
        return errno_error(netns_fd < 0 ? "sock_diag: opening a NETLINK_SOCK_DIAG socket"
                                        : "sock_diag: opening a NETLINK_SOCK_DIAG socket in "
                                          "another network namespace",
                           err, "the kernel needs CONFIG_INET_DIAG (the interface `ss` uses)");
    struct timeval timeout = {kRecvTimeoutSeconds, 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);

    if (auto sent = send_dump_request(fd.get(), family, state_mask); !sent) return sent.error();
    return read_dump(fd.get(), visit);
}

}  // namespace

DiagParseResult parse_diag_messages(std::span<const std::byte> datagram,
                                    std::vector<DiagSocket>& out) {
    while (!datagram.empty()) {
        if (datagram.size() < sizeof(struct nlmsghdr)) return {DiagParseStatus::Malformed, 0};
        const auto header = load<struct nlmsghdr>(datagram.data());
        if (header.nlmsg_len < sizeof header || header.nlmsg_len > datagram.size())
            return {DiagParseStatus::Malformed, 0};
        auto body = datagram.subspan(NLMSG_HDRLEN, header.nlmsg_len - NLMSG_HDRLEN);

        switch (header.nlmsg_type) {
            case NLMSG_DONE:
                return status_message(body, DiagParseStatus::Done);
            case NLMSG_ERROR: {
                auto result = status_message(body, DiagParseStatus::More);
                if (result.status != DiagParseStatus::More) return result;
                break;  // error 0 is an acknowledgement
            }
            case NLMSG_OVERRUN:
                return {DiagParseStatus::Malformed, 0};
            case SOCK_DIAG_BY_FAMILY:
                if (!parse_socket(body, out)) return {DiagParseStatus::Malformed, 0};
                break;
            default:
                break;  // NLMSG_NOOP and anything newer
        }
        datagram =
            datagram.subspan(std::min<size_t>(NLMSG_ALIGN(header.nlmsg_len), datagram.size()));
    }
    return {DiagParseStatus::More, 0};
}

const char* to_string(DiagParseStatus status) {
    switch (status) {
        case DiagParseStatus::More:
            return "more";
        case DiagParseStatus::Done:
            return "done";
        case DiagParseStatus::KernelError:
            return "kernel error";
        case DiagParseStatus::Malformed:
            return "malformed";
    }
    return "?";
}

Result<void> for_each_tcp_socket(uint32_t state_mask, const DiagVisitor& visit, int netns_fd) {
    // The kernel dumps one family per request (AF_UNSPEC has no handler).
    for (uint8_t family : {AF_INET, AF_INET6})
        if (auto dumped = dump_family(family, state_mask, visit, netns_fd); !dumped) return dumped;
    return Ok{};
}

Result<std::vector<DiagSocket>> dump_tcp_sockets(uint32_t state_mask) {
    std::vector<DiagSocket> sockets;
    auto dumped =
        for_each_tcp_socket(state_mask, [&](const DiagSocket& s) { sockets.push_back(s); });
    if (!dumped) return dumped.error();
    return sockets;
}

}  // namespace cwtrace
