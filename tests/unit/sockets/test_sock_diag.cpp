#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "cwtrace/abi.h"
#include "sockets/sock_diag.h"

using namespace cwtrace;
using namespace std::chrono_literals;

namespace {

constexpr uint32_t kCloseWaitMask = 1u << CW_TCP_CLOSE_WAIT;

class Fd {
  public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd& operator=(Fd&& other) noexcept {
        reset(std::exchange(other.fd_, -1));
        return *this;
    }
    ~Fd() { reset(); }
    int get() const { return fd_; }
    void reset(int fd = -1) {
        if (fd_ >= 0) close(fd_);
        fd_ = fd;
    }

  private:
    int fd_;
};

uint16_t local_port(int fd) {
    sockaddr_storage addr = {};
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    return ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

uint64_t inode_of(int fd) {
    struct stat st = {};
    EXPECT_EQ(fstat(fd, &st), 0);
    return st.st_ino;
}

// A loopback listener on an ephemeral port.
Fd listen_loopback(int family) {
    Fd fd(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_storage addr = {};
    socklen_t len = 0;
    if (family == AF_INET6) {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_loopback;
        len = sizeof *in6;
    } else {
        auto* in = reinterpret_cast<sockaddr_in*>(&addr);
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *in;
    }
    EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len), 0) << strerror(errno);
    EXPECT_EQ(listen(fd.get(), 64), 0);
    return fd;
}

struct Connection {
    Fd client;
    Fd server;  // the accepted end
};

Connection connect_to(int family, const Fd& listener) {
    sockaddr_storage addr = {};
    socklen_t len = sizeof addr;
    getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len);
    Connection c{Fd(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)), Fd()};
    EXPECT_EQ(connect(c.client.get(), reinterpret_cast<sockaddr*>(&addr), len), 0)
        << strerror(errno);
    c.server.reset(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    EXPECT_GE(c.server.get(), 0);
    return c;
}

void read_to_eof(int fd) {
    char buf[256];
    while (read(fd, buf, sizeof buf) > 0) {
    }
}

std::vector<DiagSocket> dump(uint32_t mask) {
    auto result = dump_tcp_sockets(mask);
    EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().message);
    return result.ok() ? result.value() : std::vector<DiagSocket>{};
}

std::optional<DiagSocket> find(const std::vector<DiagSocket>& sockets, bool inet6, uint16_t sport,
                               uint16_t dport) {
    for (const auto& s : sockets)
        if (s.inet6 == inet6 && s.sport == sport && s.dport == dport) return s;
    return std::nullopt;
}

// The streamed dump, so a machine holding many sockets does not make the test hold them all.
std::optional<DiagSocket> find(uint32_t mask, bool inet6, uint16_t sport, uint16_t dport) {
    std::optional<DiagSocket> found;
    auto result = for_each_tcp_socket(mask, [&](const DiagSocket& s) {
        if (s.inet6 == inet6 && s.sport == sport && s.dport == dport) found = s;
    });
    EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().message);
    return found;
}

// Loopback delivers the FIN within close(), but give the peer a moment anyway.
std::optional<DiagSocket> find_close_wait(bool inet6, uint16_t sport, uint16_t dport) {
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    do {
        if (auto s = find(kCloseWaitMask, inet6, sport, dport)) return s;
        std::this_thread::sleep_for(10ms);
    } while (std::chrono::steady_clock::now() < deadline);
    return std::nullopt;
}

using Clock = std::chrono::steady_clock;

// An upper bound on a tcp_info age for an event after `start`: the wall time since, plus slack
// for the kernel counting in jiffies. A dump slowed by a busy machine only loosens it.
uint32_t ms_since(Clock::time_point start) {
    constexpr uint32_t kJiffySlackMs = 20;
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    return static_cast<uint32_t>(elapsed.count()) + kJiffySlackMs;
}

void expect_loopback(const DiagSocket& s, int family) {
    uint8_t want[16] = {};
    if (family == AF_INET6) {
        std::memcpy(want, &in6addr_loopback, 16);
    } else {
        uint32_t v4 = htonl(INADDR_LOOPBACK);
        std::memcpy(want, &v4, 4);
    }
    EXPECT_EQ(std::memcmp(s.saddr, want, 16), 0);
    EXPECT_EQ(std::memcmp(s.daddr, want, 16), 0);
}

class SockDiagLive : public ::testing::TestWithParam<int> {
  protected:
    int family() const { return GetParam(); }
    bool inet6() const { return family() == AF_INET6; }
};

// The peer closes first: the client end is left in CLOSE_WAIT, as a leaked pooled connection is.
TEST_P(SockDiagLive, ClientSideCloseWaitWithRecvQueue) {
    const auto start = Clock::now();
    Fd listener = listen_loopback(family());
    const uint16_t server_port = local_port(listener.get());

    Connection unread = connect_to(family(), listener);  // response never read
    ASSERT_EQ(write(unread.server.get(), "hello", 5), 5);
    unread.server.reset();

    Connection eof_read = connect_to(family(), listener);  // read to EOF, never closed
    ASSERT_EQ(write(eof_read.server.get(), "bye", 3), 3);
    eof_read.server.reset();
    read_to_eof(eof_read.client.get());

    Connection eof_unread = connect_to(family(), listener);  // no data, EOF never read
    eof_unread.server.reset();

    struct Case {
        const char* name;
        const Fd& client;
        uint32_t recv_q;
    } cases[] = {{"unread data", unread.client, 5 + 1},  // the FIN counts one
                 {"EOF read", eof_read.client, 0},
                 {"EOF unread", eof_unread.client, 1}};
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        auto s = find_close_wait(inet6(), local_port(c.client.get()), server_port);
        ASSERT_TRUE(s) << "client socket not in the CLOSE_WAIT dump";
        EXPECT_EQ(s->state, CW_TCP_CLOSE_WAIT);
        EXPECT_EQ(s->inode, inode_of(c.client.get()));
        EXPECT_EQ(s->recv_q, c.recv_q);
        EXPECT_EQ(s->send_q, 0u);
        EXPECT_EQ(s->uid, geteuid());
        EXPECT_NE(s->cookie, 0u);
        expect_loopback(*s, family());
        ASSERT_TRUE(s->tcp_info);
        EXPECT_LE(s->tcp_info->last_data_recv_ms, ms_since(start));
        EXPECT_LE(s->tcp_info->last_ack_recv_ms, ms_since(start));
    }
}

// The client closes first: the accepted end is left in CLOSE_WAIT (a leaking server).
TEST_P(SockDiagLive, ServerSideCloseWait) {
    Fd listener = listen_loopback(family());
    Connection c = connect_to(family(), listener);
    const uint16_t client_port = local_port(c.client.get());
    c.client.reset();

    auto s = find_close_wait(inet6(), local_port(listener.get()), client_port);
    ASSERT_TRUE(s) << "accepted socket not in the CLOSE_WAIT dump";
    EXPECT_EQ(s->state, CW_TCP_CLOSE_WAIT);
    EXPECT_EQ(s->inode, inode_of(c.server.get()));
    EXPECT_EQ(s->recv_q, 1u);
    expect_loopback(*s, family());
}

// The streamed dump sees the same socket once, and only sockets in the mask.
TEST_P(SockDiagLive, StreamedDumpVisitsOnce) {
    Fd listener = listen_loopback(family());
    Connection c = connect_to(family(), listener);
    c.server.reset();
    const uint16_t client_port = local_port(c.client.get());
    const uint16_t server_port = local_port(listener.get());
    ASSERT_TRUE(find_close_wait(inet6(), client_port, server_port));

    int matches = 0, other_states = 0;
    auto streamed = for_each_tcp_socket(kCloseWaitMask, [&](const DiagSocket& s) {
        if (s.state != CW_TCP_CLOSE_WAIT) ++other_states;
        if (s.inet6 == inet6() && s.sport == client_port && s.dport == server_port) ++matches;
    });
    ASSERT_TRUE(streamed.ok()) << streamed.error().message;
    EXPECT_EQ(matches, 1);
    EXPECT_EQ(other_states, 0);
}

// Only the states in the mask are dumped.
TEST_P(SockDiagLive, StateMaskSelects) {
    Fd listener = listen_loopback(family());
    Connection open = connect_to(family(), listener);
    const uint16_t client_port = local_port(open.client.get());
    const uint16_t server_port = local_port(listener.get());

    EXPECT_FALSE(find(kCloseWaitMask, inet6(), client_port, server_port));
    auto established = find(dump(1u << CW_TCP_ESTABLISHED), inet6(), client_port, server_port);
    ASSERT_TRUE(established);
    EXPECT_EQ(established->state, CW_TCP_ESTABLISHED);
    EXPECT_EQ(established->inode, inode_of(open.client.get()));
    EXPECT_TRUE(find(dump(1u << CW_TCP_LISTEN), inet6(), server_port, 0));
}

INSTANTIATE_TEST_SUITE_P(SockDiag, SockDiagLive, ::testing::Values(AF_INET, AF_INET6),
                         [](const auto& info) { return info.param == AF_INET6 ? "IPv6" : "IPv4"; });

// What the age estimate rests on: last_ack_recv restarts at the FIN, last_data_recv does not.
TEST(SockDiagAge, FinRestartsAckClockNotDataClock) {
    const auto start = Clock::now();
    Fd listener = listen_loopback(AF_INET);
    const uint16_t server_port = local_port(listener.get());

    Connection early = connect_to(AF_INET, listener);  // FIN now
    early.server.reset();
    Connection late = connect_to(AF_INET, listener);  // data now, FIN after the sleep
    ASSERT_EQ(write(late.server.get(), "x", 1), 1);

    auto fresh = find_close_wait(false, local_port(early.client.get()), server_port);
    ASSERT_TRUE(fresh && fresh->tcp_info);
    EXPECT_LE(fresh->tcp_info->last_data_recv_ms, ms_since(start));
    EXPECT_LE(fresh->tcp_info->last_ack_recv_ms, ms_since(start));

    std::this_thread::sleep_for(1200ms);
    const auto late_fin = Clock::now();
    late.server.reset();

    auto aged = find_close_wait(false, local_port(early.client.get()), server_port);
    ASSERT_TRUE(aged && aged->tcp_info);
    EXPECT_GE(aged->tcp_info->last_data_recv_ms, 1000u);
    EXPECT_GE(aged->tcp_info->last_ack_recv_ms, 1000u);

    auto just_closed = find_close_wait(false, local_port(late.client.get()), server_port);
    ASSERT_TRUE(just_closed && just_closed->tcp_info);
    const DiagTcpInfo& info = *just_closed->tcp_info;
    EXPECT_LE(info.last_ack_recv_ms, ms_since(late_fin));              // the FIN counts
    EXPECT_GE(info.last_data_recv_ms, 1000u);                          // but not as data:
    EXPECT_GE(info.last_data_recv_ms, info.last_ack_recv_ms + 1000u);  // 1.2 s apart
}

// ---- parse_diag_messages on handcrafted bytes ----

class Datagram {
  public:
    // Appends a message; returns its offset.
    size_t add(uint16_t type, const void* body, size_t body_len) {
        const size_t at = bytes_.size();
        nlmsghdr header = {};
        header.nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(body_len));
        header.nlmsg_type = type;
        append(&header, sizeof header);
        append(body, body_len);
        bytes_.resize(NLMSG_ALIGN(bytes_.size()));
        return at;
    }
    void add_done(int status = 0) { add(NLMSG_DONE, &status, sizeof status); }
    std::vector<std::byte>& bytes() { return bytes_; }
    const std::vector<std::byte>& bytes() const { return bytes_; }

  private:
    void append(const void* data, size_t len) {
        auto* p = static_cast<const std::byte*>(data);
        bytes_.insert(bytes_.end(), p, p + len);
    }
    std::vector<std::byte> bytes_;
};

// An inet_diag_msg followed by rtattrs, as the kernel lays it out.
class SocketMessage {
  public:
    explicit SocketMessage(uint8_t family = AF_INET) {
        inet_diag_msg msg = {};
        msg.idiag_family = family;
        msg.idiag_state = CW_TCP_CLOSE_WAIT;
        msg.id.idiag_sport = htons(40000);
        msg.id.idiag_dport = htons(8080);
        msg.id.idiag_src[0] = htonl(0x0a000001);
        msg.id.idiag_dst[0] = htonl(0x0a000002);
        msg.id.idiag_cookie[0] = 0x11223344;
        msg.id.idiag_cookie[1] = 0x55667788;
        msg.idiag_rqueue = 7;
        msg.idiag_wqueue = 3;
        msg.idiag_uid = 1000;
        msg.idiag_inode = 4242;
        append(&msg, sizeof msg);
    }
    void add_attr(uint16_t type, const void* payload, size_t len) {
        rtattr attr = {static_cast<unsigned short>(RTA_LENGTH(len)), type};
        append(&attr, sizeof attr);
        append(payload, len);
        bytes_.resize(RTA_ALIGN(bytes_.size()));
    }
    const std::vector<std::byte>& bytes() const { return bytes_; }

  private:
    void append(const void* data, size_t len) {
        auto* p = static_cast<const std::byte*>(data);
        bytes_.insert(bytes_.end(), p, p + len);
    }
    std::vector<std::byte> bytes_;
};

// tcp_info bytes with distinctive values, `len` long (shorter or longer than our struct).
std::vector<std::byte> tcp_info_bytes(size_t len) {
    struct tcp_info info = {};
    info.tcpi_last_data_recv = 5000;
    info.tcpi_last_ack_recv = 4000;
    info.tcpi_last_data_sent = 3000;
    info.tcpi_rtt = 55;
    info.tcpi_bytes_received = 123456;
    std::vector<std::byte> out(len);
    std::memcpy(out.data(), &info, std::min(len, sizeof info));
    return out;
}

Datagram one_socket_then_done() {
    SocketMessage msg;
    auto info = tcp_info_bytes(sizeof(struct tcp_info));
    msg.add_attr(INET_DIAG_SHUTDOWN, "\x01", 1);
    msg.add_attr(INET_DIAG_INFO, info.data(), info.size());
    Datagram d;
    d.add(SOCK_DIAG_BY_FAMILY, msg.bytes().data(), msg.bytes().size());
    d.add_done();
    return d;
}

TEST(SockDiagParse, ParsesSocketAndDone) {
    Datagram d = one_socket_then_done();
    std::vector<DiagSocket> out;
    auto r = parse_diag_messages(d.bytes(), out);
    EXPECT_EQ(r.status, DiagParseStatus::Done);
    ASSERT_EQ(out.size(), 1u);
    const DiagSocket& s = out[0];
    EXPECT_FALSE(s.inet6);
    EXPECT_EQ(s.state, CW_TCP_CLOSE_WAIT);
    EXPECT_EQ(s.sport, 40000);
    EXPECT_EQ(s.dport, 8080);
    const uint8_t src[16] = {10, 0, 0, 1};
    const uint8_t dst[16] = {10, 0, 0, 2};
    EXPECT_EQ(std::memcmp(s.saddr, src, 16), 0);
    EXPECT_EQ(std::memcmp(s.daddr, dst, 16), 0);
    EXPECT_EQ(s.cookie, 0x5566778811223344u);
    EXPECT_EQ(s.recv_q, 7u);
    EXPECT_EQ(s.send_q, 3u);
    EXPECT_EQ(s.uid, 1000u);
    EXPECT_EQ(s.inode, 4242u);
    ASSERT_TRUE(s.tcp_info);
    EXPECT_EQ(s.tcp_info->last_data_recv_ms, 5000u);
    EXPECT_EQ(s.tcp_info->last_ack_recv_ms, 4000u);
    EXPECT_EQ(s.tcp_info->last_data_sent_ms, 3000u);
    EXPECT_EQ(s.tcp_info->rtt_us, 55u);
    EXPECT_EQ(s.tcp_info->bytes_received, 123456u);
}

TEST(SockDiagParse, MoreWithoutDoneAndSeveralMessages) {
    SocketMessage v6(AF_INET6);
    Datagram d;
    d.add(SOCK_DIAG_BY_FAMILY, v6.bytes().data(), v6.bytes().size());
    d.add(NLMSG_NOOP, nullptr, 0);
    d.add(SOCK_DIAG_BY_FAMILY, v6.bytes().data(), v6.bytes().size());
    std::vector<DiagSocket> out;
    EXPECT_EQ(parse_diag_messages(d.bytes(), out).status, DiagParseStatus::More);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_TRUE(out[1].inet6);
    EXPECT_FALSE(out[1].tcp_info);  // no INET_DIAG_INFO attribute
}

TEST(SockDiagParse, SkipsOtherFamilies) {
    SocketMessage unix_socket(AF_UNIX);
    Datagram d;
    d.add(SOCK_DIAG_BY_FAMILY, unix_socket.bytes().data(), unix_socket.bytes().size());
    std::vector<DiagSocket> out;
    EXPECT_EQ(parse_diag_messages(d.bytes(), out).status, DiagParseStatus::More);
    EXPECT_TRUE(out.empty());
}

TEST(SockDiagParse, KernelErrors) {
    nlmsgerr err = {};
    err.error = -EPERM;
    Datagram d;
    d.add(NLMSG_ERROR, &err, sizeof err);
    std::vector<DiagSocket> out;
    auto r = parse_diag_messages(d.bytes(), out);
    EXPECT_EQ(r.status, DiagParseStatus::KernelError);
    EXPECT_EQ(r.error, EPERM);

    Datagram failed_dump;
    failed_dump.add_done(-ENOMEM);
    r = parse_diag_messages(failed_dump.bytes(), out);
    EXPECT_EQ(r.status, DiagParseStatus::KernelError);
    EXPECT_EQ(r.error, ENOMEM);

    Datagram int_min;  // -INT_MIN is no errno (and would overflow)
    int_min.add_done(INT_MIN);
    EXPECT_EQ(parse_diag_messages(int_min.bytes(), out).status, DiagParseStatus::Malformed);

    Datagram bare_error;  // an NLMSG_ERROR that does not say which
    bare_error.add(NLMSG_ERROR, nullptr, 0);
    EXPECT_EQ(parse_diag_messages(bare_error.bytes(), out).status, DiagParseStatus::Malformed);
    EXPECT_TRUE(out.empty());
}

TEST(SockDiagParse, TcpInfoOfOtherKernelSizes) {
    for (size_t len : {size_t{8}, size_t{103}, size_t{104}, sizeof(struct tcp_info) + 64}) {
        SCOPED_TRACE(len);
        SocketMessage msg;
        auto info = tcp_info_bytes(len);
        msg.add_attr(INET_DIAG_INFO, info.data(), info.size());
        Datagram d;
        d.add(SOCK_DIAG_BY_FAMILY, msg.bytes().data(), msg.bytes().size());
        std::vector<DiagSocket> out;
        ASSERT_EQ(parse_diag_messages(d.bytes(), out).status, DiagParseStatus::More);
        ASSERT_EQ(out.size(), 1u);
        // Shorter than the 2.6-era struct (104 bytes): not usable.
        ASSERT_EQ(out[0].tcp_info.has_value(), len >= 104);
        if (len < 104) continue;
        EXPECT_EQ(out[0].tcp_info->last_data_recv_ms, 5000u);
        // bytes_received lies past 104 bytes: zero unless the kernel sent it.
        EXPECT_EQ(out[0].tcp_info->bytes_received, len > 104 ? 123456u : 0u);
    }
}

TEST(SockDiagParse, EveryTruncationIsMalformedOrClean) {
    Datagram d = one_socket_then_done();
    const auto& full = d.bytes();
    const size_t first_message_end = full.size() - NLMSG_LENGTH(sizeof(int));
    for (size_t len = 0; len < full.size(); ++len) {
        SCOPED_TRACE(len);
        // A copy of exactly `len` bytes, so ASan catches any read past it.
        std::vector<std::byte> cut(full.begin(), full.begin() + len);
        std::vector<DiagSocket> out;
        auto status = parse_diag_messages(cut, out).status;
        if (len == 0 || len == first_message_end)
            EXPECT_EQ(status, DiagParseStatus::More);
        else
            EXPECT_EQ(status, DiagParseStatus::Malformed);
        EXPECT_EQ(out.size(), len >= first_message_end ? 1u : 0u);
    }
}

TEST(SockDiagParse, LengthsOutOfBounds) {
    std::vector<DiagSocket> out;
    for (uint32_t bad_len : {0u, 15u, 1000u}) {  // below a header, beyond the buffer
        Datagram d = one_socket_then_done();
        nlmsghdr header;
        std::memcpy(&header, d.bytes().data(), sizeof header);
        header.nlmsg_len = bad_len;
        std::memcpy(d.bytes().data(), &header, sizeof header);
        EXPECT_EQ(parse_diag_messages(d.bytes(), out).status, DiagParseStatus::Malformed);
    }

    Datagram short_body;  // a socket message too short for inet_diag_msg
    short_body.add(SOCK_DIAG_BY_FAMILY, "abcd", 4);
    EXPECT_EQ(parse_diag_messages(short_body.bytes(), out).status, DiagParseStatus::Malformed);

    for (unsigned short bad_rta_len : {0, 3, 500}) {  // below an rtattr, beyond the message
        SocketMessage msg;
        msg.add_attr(INET_DIAG_INFO, "12345678", 8);
        auto body = msg.bytes();
        rtattr attr = {bad_rta_len, INET_DIAG_INFO};
        std::memcpy(body.data() + sizeof(inet_diag_msg), &attr, sizeof attr);
        Datagram d;
        d.add(SOCK_DIAG_BY_FAMILY, body.data(), body.size());
        EXPECT_EQ(parse_diag_messages(d.bytes(), out).status, DiagParseStatus::Malformed);
    }
    EXPECT_TRUE(out.empty());
}

TEST(SockDiagParse, UnalignedBuffer) {
    Datagram d = one_socket_then_done();
    std::vector<std::byte> shifted(d.bytes().size() + 1);
    std::memcpy(shifted.data() + 1, d.bytes().data(), d.bytes().size());
    std::vector<DiagSocket> out;
    auto status = parse_diag_messages(std::span(shifted).subspan(1), out).status;
    EXPECT_EQ(status, DiagParseStatus::Done);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].inode, 4242u);
}

// Random mutations of a valid datagram: must end with a status, never crash or over-read
// (the sanitizer build turns an over-read into a failure).
TEST(SockDiagParse, MutatedBytesNeverCrash) {
    const Datagram valid = one_socket_then_done();
    std::mt19937 rng(12345);
    for (int round = 0; round < 20000; ++round) {
        std::vector<std::byte> bytes = valid.bytes();
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int i = 0; i < flips; ++i) bytes[rng() % bytes.size()] = static_cast<std::byte>(rng());
        bytes.resize(rng() % (bytes.size() + 1));
        std::vector<DiagSocket> out;
        auto status = parse_diag_messages(bytes, out).status;
        ASSERT_LE(out.size(), 1u);
        ASSERT_TRUE(status == DiagParseStatus::More || status == DiagParseStatus::Done ||
                    status == DiagParseStatus::KernelError || status == DiagParseStatus::Malformed);
    }
}

}  // namespace
