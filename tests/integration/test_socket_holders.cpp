// The BPF walk of the file tables (SocketHolders) against the /proc pass it stands in for, on
// real sockets in CLOSE_WAIT held by this process and by a child (root, real BPF).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <unordered_set>
#include <vector>

#include "harness.h"
#include "owners/owners.h"
#include "owners/socket_holders.h"

namespace cwtrace::testing {
namespace {

uint64_t inode_of(int fd) {
    struct stat st = {};
    return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

bool in_close_wait(int fd) {
    tcp_info info = {};
    socklen_t len = sizeof info;
    return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 &&
           info.tcpi_state == 8 /* TCP_CLOSE_WAIT */;
}

// `count` client sockets on loopback whose peer has closed: in CLOSE_WAIT, held here.
std::vector<int> close_wait_sockets(int count) {
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    EXPECT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(listener, count), 0);
    EXPECT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    std::vector<int> clients;
    for (int i = 0; i < count; ++i) {
        int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        EXPECT_EQ(connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        int s = accept(listener, nullptr, nullptr);
        close(s);
        clients.push_back(c);
    }
    close(listener);
    for (int fd : clients)
        for (int i = 0; i < 200 && !in_close_wait(fd); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return clients;
}

std::unique_ptr<SocketHolders> load_or_skip(const SocketHoldersConfig& config) {
    auto holders = SocketHolders::load(config);
    if (holders) return std::move(*holders);
    skip_or_fail(holders.error().message);
    return nullptr;
}

class SocketHoldersTest : public ::testing::Test {
  protected:
    void SetUp() override {
        mine_ = close_wait_sockets(300);
        for (int fd : mine_) {
            ASSERT_TRUE(in_close_wait(fd));
            wanted_.insert(inode_of(fd));
        }
        // A child holds the first 20 too (inherited) and 40 of its own.
        int ready[2];
        ASSERT_EQ(pipe(ready), 0);
        child_ = fork();
        ASSERT_GE(child_, 0);
        if (child_ == 0) {
            // Gone with the test, however it ends (a test killed by its timeout included).
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() == 1) _exit(0);
            close(ready[0]);
            for (size_t i = 20; i < mine_.size(); ++i) close(mine_[i]);
            std::vector<int> own = close_wait_sockets(40);
            for (int fd : own) {
                const uint64_t ino = inode_of(fd);
                if (write(ready[1], &ino, sizeof ino) != sizeof ino) _exit(1);
            }
            close(ready[1]);
            pause();
            _exit(0);
        }
        close(ready[1]);
        uint64_t ino = 0;
        while (read(ready[0], &ino, sizeof ino) == sizeof ino) {
            wanted_.insert(ino);
            child_own_.insert(ino);
        }
        close(ready[0]);
        ASSERT_EQ(child_own_.size(), 40u);
    }
    void TearDown() override {
        if (child_ > 0) {
            kill(child_, SIGKILL);
            waitpid(child_, nullptr, 0);
        }
        for (int fd : mine_) close(fd);
    }

    // The walk's owners equal the /proc pass's, which the test checks against what it built.
    void expect_same_as_proc(SocketHolders& holders) {
        const InodeFilter wanted = [&](uint64_t ino) { return wanted_.count(ino) > 0; };
        const auto from_proc = find_socket_owners(wanted);
        const auto held = holders.walk(wanted);
        ASSERT_TRUE(held);
        const auto walked = owners_of(*held);
        ASSERT_EQ(from_proc.size(), wanted_.size());
        ASSERT_EQ(walked.size(), from_proc.size());
        for (const auto& [ino, owner] : from_proc) {
            auto it = walked.find(ino);
            ASSERT_NE(it, walked.end()) << "inode " << ino;
            EXPECT_EQ(it->second.pid, owner.pid) << "inode " << ino;
            EXPECT_EQ(it->second.comm, owner.comm) << "inode " << ino;
        }
        // Shared sockets go to the lowest pid (this one), the child's own to the child.
        for (size_t i = 0; i < mine_.size(); ++i)
            EXPECT_EQ(walked.at(inode_of(mine_[i])).pid, getpid());
        for (uint64_t ino : child_own_) EXPECT_EQ(walked.at(ino).pid, child_);
    }

    std::vector<int> mine_;
    std::unordered_set<uint64_t> wanted_, child_own_;
    pid_t child_ = -1;
};

// The walk of the run's variant (plain loads on 6.2+, helper calls on older kernels or when the
// run asks for them), then the walk asked for plain loads, which falls back to helper calls
// where the kernel refuses those: each finds the /proc pass's owners.
TEST_F(SocketHoldersTest, OwnersAreThoseOfTheProcPass) {
    const std::string reads = expected_reads();
    for (bool ask_direct : {reads != "probed", true}) {
        SCOPED_TRACE(ask_direct ? "plain loads asked" : "helper calls asked");
        auto holders = load_or_skip({.direct_reads = ask_direct});
        if (!holders) return;
        if (!ask_direct) {
            EXPECT_FALSE(holders->direct_reads());
        } else if (reads == "direct") {
            EXPECT_TRUE(holders->direct_reads());
        } else if (reads == "probed" && !std::getenv("CWTRACE_PROBED_READS")) {
            EXPECT_FALSE(holders->direct_reads()) << "this kernel refuses plain loads";
        }
        expect_same_as_proc(*holders);
        // At least ours: the walk counts every held socket in CLOSE_WAIT on the machine, and
        // other processes' come and go (ours are compared one by one above).
        EXPECT_GE(holders->last_walk().found, wanted_.size());
        // Walked again (the state of the first walk is forgotten): the same answer.
        expect_same_as_proc(*holders);
    }
}

// Runs of 50 steps and a ring buffer of one page (170 records): the walk stops inside process
// tables, and on a full buffer, many times over, and resumes where it stopped.
TEST_F(SocketHoldersTest, ResumesWhereEachShortRunStopped) {
    auto holders = load_or_skip(
        {.steps_per_run = 50, .ringbuf_bytes = 4096, .direct_reads = expected_reads() != "probed"});
    if (!holders) return;
    expect_same_as_proc(*holders);
    // A lower bound: how many runs it takes depends on every process and descriptor on the
    // machine, not only on the 360 held here.
    EXPECT_GT(holders->last_walk().runs, 360u / 50) << "the walk was not cut into runs";
    // Every descriptor looked at once: the 360 held sockets were found once each (a shared one
    // once per holder), whatever else the machine holds in CLOSE_WAIT.
    const auto held = holders->walk([&](uint64_t ino) { return wanted_.count(ino) > 0; });
    ASSERT_TRUE(held);
    EXPECT_EQ(held->size(), wanted_.size() + 20);
}

}  // namespace
}  // namespace cwtrace::testing
