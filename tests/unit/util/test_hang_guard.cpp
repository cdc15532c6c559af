// The time budget on reads another process can hang (a FUSE daemon that never answers): the
// caller waits at most the deadline, a late reader is abandoned and goes when its call ends, a
// filesystem that hung is not touched again, and past the bound on stuck readers calls that
// may wait on a process are refused outright while others still run. The blocking call is a
// test double (a read of a pipe the test holds open), never a sleep.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "util/hang_guard.h"
#include "util/reader_process.h"
#include "util/slow_filesystems.h"

namespace cwtrace {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Long enough for a call that does not block to come back in time when a new reader is forked
// first: in a fresh clone's CI (ASan, unit tests in parallel) two echoes took over 50 ms.
constexpr auto kDeadline = 200ms;
// What a hand-off to the reader may take on a loaded 2-core CI machine.
constexpr auto kSlack = 500ms;

// The test doubles, registered before any reader is forked.
ReaderReply echo(std::string_view args, int, const ReachedDevice&) {
    return {std::string(args), -1};
}
// Blocks until the lent pipe's write end is closed: a daemon that answers when the test says.
// With a device in `args`, says it reached it first (its fstat), as an open does.
ReaderReply block(std::string_view args, int fd, const ReachedDevice& reached) {
    Bytes in(args);
    if (const uint64_t dev = in.number(); in.ok()) reached(dev);
    char c;
    while (::read(fd, &c, 1) > 0) {
    }
    return {"late", -1};
}
const uint32_t kEcho = register_reader_operation(echo);
const uint32_t kBlock = register_reader_operation(block);

// A pipe whose read end a blocking call is lent; the call returns once `release()` is called.
struct Hold {
    int fds[2] = {-1, -1};
    Hold() { EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0); }
    ~Hold() {
        ::close(fds[0]);
        release();
    }
    void release() {
        if (fds[1] >= 0) ::close(fds[1]);
        fds[1] = -1;
    }
    int lent() const { return fds[0]; }
};

bool eventually(const std::function<bool()>& condition) {
    for (auto until = Clock::now() + 5s; Clock::now() < until; std::this_thread::sleep_for(1ms))
        if (condition()) return true;
    return condition();
}

// A reader left alive when late: a stand-in for one the kernel will not let go.
constexpr ReaderProcess::Limits kUnkillable{kDeadline, 2, 0};

// What the echo operation sent back through `reader` ("" when nothing came).
std::string echoed(ReaderProcess& reader, const std::string& text) {
    uint64_t reached = 0;
    bool late = false;
    auto reply = reader.call(kEcho, text, -1, reached, late);
    EXPECT_FALSE(late);
    if (!reply) return "";
    EXPECT_EQ(reply->fd, -1);
    return reply->bytes;
}

TEST(ReaderProcess, FastCallReturnsItsReply) {
    ReaderProcess reader(kUnkillable);
    for (int i = 0; i < 100; ++i)
        EXPECT_EQ(echoed(reader, "call " + std::to_string(i)), "call " + std::to_string(i));
    EXPECT_EQ(reader.abandoned(), 0u);
}

TEST(ReaderProcess, LateCallReturnsNothingWithinTheDeadline) {
    Hold hold;
    ReaderProcess reader(kUnkillable);
    uint64_t reached = 0;
    bool late = false;
    const auto start = Clock::now();
    // The device it said it reached (its fstat) comes back, for the hang to be blamed on.
    EXPECT_FALSE(
        reader.call(kBlock, Bytes().put(makedev(0, 36)).take(), hold.lent(), reached, late));
    const auto waited = Clock::now() - start;
    EXPECT_GE(waited, kDeadline);
    EXPECT_LT(waited, kDeadline + kSlack);
    EXPECT_TRUE(late);
    EXPECT_EQ(reached, makedev(0, 36));
    EXPECT_EQ(reader.abandoned(), 1u);
    // The next call gets a reader of its own while the first is stuck.
    EXPECT_EQ(echoed(reader, "next"), "next");
    // The stuck one goes once its call returns.
    hold.release();
    EXPECT_TRUE(eventually([&] { return reader.abandoned() == 0; }));
}

TEST(ReaderProcess, LateReaderIsKilled) {
    Hold hold;  // never released while the reader could still read it
    ReaderProcess reader({kDeadline, 2, SIGKILL});
    uint64_t reached = 0;
    bool late = false;
    EXPECT_FALSE(reader.call(kBlock, "", hold.lent(), reached, late));
    EXPECT_TRUE(eventually([&] { return reader.abandoned() == 0; }));
}

// Its own end (exit, SIGKILL by anyone) is no slowness: a new reader takes the call.
ReaderReply exit_now(std::string_view, int, const ReachedDevice&) { ::_exit(0); }
const uint32_t kExit = register_reader_operation(exit_now);

TEST(ReaderProcess, ReaderThatDiesIsNotLateAndIsReplaced) {
    ReaderProcess reader(kUnkillable);
    uint64_t reached = 0;
    bool late = true;
    EXPECT_FALSE(reader.call(kExit, "", -1, reached, late));
    EXPECT_FALSE(late);
    EXPECT_EQ(echoed(reader, "after"), "after");
}

// cwtrace's start-up work runs in threads: the reader one of them forked outlives it.
TEST(ReaderProcess, ReaderForkedByAThreadThatEndedStillServes) {
    ReaderProcess reader(kUnkillable);
    std::thread([&] { EXPECT_EQ(echoed(reader, "first"), "first"); }).join();
    EXPECT_EQ(echoed(reader, "second"), "second");
    EXPECT_EQ(reader.abandoned(), 0u);
}

// mountinfo as the kernel writes it: blanks in a mount point are \040, optional fields end at
// a lone "-".
constexpr const char* kMountinfo =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "40 22 0:35 / /tmp/a\\040b rw,nosuid shared:20 master:3 - fuse /dev/fuse rw,user_id=0\n"
    "41 22 0:36 / /mnt/ssh rw - fuse.sshfs host: rw\n"
    "42 22 0:37 / /srv rw - nfs4 server:/srv rw\n";

TEST(SlowFilesystems, TypeComesFromMountinfoByDevice) {
    EXPECT_EQ(fstype_in_mountinfo(kMountinfo, makedev(8, 1)), "ext4");
    EXPECT_EQ(fstype_in_mountinfo(kMountinfo, makedev(0, 35)), "fuse");
    EXPECT_EQ(fstype_in_mountinfo(kMountinfo, makedev(0, 36)), "fuse.sshfs");
    EXPECT_EQ(fstype_in_mountinfo(kMountinfo, makedev(0, 99)), std::nullopt);
    EXPECT_EQ(fstype_in_mountinfo("garbage\n\n1 2 x:y / / rw - ext4\n", makedev(8, 1)),
              std::nullopt);
}

TEST(SlowFilesystems, ServedByAProcessOrUnknown) {
    const std::map<std::string, std::string> proc = {
        {"/proc/self/mountinfo", kMountinfo},
        {"/proc/77/mountinfo", "50 49 0:60 / /home rw - fuse.bindfs src rw\n"}};
    SlowFilesystems filesystems([&](const std::string& path) -> std::optional<std::string> {
        auto it = proc.find(path);
        return it == proc.end() ? std::nullopt : std::optional(it->second);
    });
    EXPECT_FALSE(filesystems.served(makedev(8, 1), 77));
    EXPECT_TRUE(filesystems.served(makedev(0, 35), 77));
    EXPECT_TRUE(filesystems.served(makedev(0, 37), 77));  // nfs4
    EXPECT_TRUE(filesystems.served(makedev(0, 60), 77));  // only in the process's namespace
    EXPECT_TRUE(filesystems.served(makedev(0, 99), 77));  // in neither: not trusted
    EXPECT_FALSE(served_by_a_process("tmpfs"));
    EXPECT_FALSE(served_by_a_process("overlay"));
}

// A guard over a fake mount table: 8:1 is ext4, 0:35 FUSE.
class HangGuardTest : public ::testing::Test {
  protected:
    HangGuard guard_{kUnkillable, [](const std::string& path) {
                         return path == "/proc/self/mountinfo"
                                    ? std::optional<std::string>(kMountinfo)
                                    : std::nullopt;
                     }};
    const uint64_t ext4_ = makedev(8, 1), fuse_ = makedev(0, 35);
    std::string why_;

    bool answers(std::optional<uint64_t> dev) {
        auto reply = guard_.call({dev, 1}, kEcho, "hello", -1, why_);
        return reply && reply->bytes == "hello";
    }
};

TEST_F(HangGuardTest, FastFileUnaffected) {
    EXPECT_TRUE(answers(fuse_));
    EXPECT_EQ(why_, "");
    EXPECT_FALSE(guard_.slow(fuse_));
}

TEST_F(HangGuardTest, HungFilesystemIsRememberedAndNotTouchedAgain) {
    Hold hold;
    EXPECT_FALSE(guard_.call({fuse_, 1}, kBlock, "", hold.lent(), why_));
    EXPECT_EQ(why_, "no answer within 200 ms");
    EXPECT_TRUE(guard_.slow(fuse_));
    const auto start = Clock::now();
    EXPECT_FALSE(answers(fuse_));  // refused before any reader is asked
    EXPECT_LT(Clock::now() - start, kDeadline);
    EXPECT_EQ(why_, "on a filesystem that did not answer before");
    EXPECT_TRUE(answers(ext4_));  // another filesystem is not tainted by it
}

TEST_F(HangGuardTest, DeviceReachedByTheCallIsRememberedWhenNoneWasKnown) {
    Hold hold;
    EXPECT_FALSE(guard_.call({std::nullopt, 1}, kBlock, Bytes().put(makedev(0, 36)).take(),
                             hold.lent(), why_));
    EXPECT_TRUE(guard_.slow(makedev(0, 36)));
    EXPECT_FALSE(guard_.slow(fuse_));
}

TEST_F(HangGuardTest, PastTheBoundServedFilesAreRefusedLocalOnesStillRun) {
    Hold hold;
    for (unsigned minor : {40u, 41u})  // two FUSE mounts of the attacker's, each hanging
        EXPECT_FALSE(guard_.call({makedev(0, minor), 1}, kBlock, "", hold.lent(), why_));
    EXPECT_FALSE(answers(fuse_));
    EXPECT_EQ(why_, "2 earlier reads still unanswered; not risking another");
    EXPECT_FALSE(answers(std::nullopt));  // a device not known before the call
    EXPECT_TRUE(answers(ext4_));
    hold.release();
    EXPECT_TRUE(eventually([&] { return guard_.reader().abandoned() == 0; }));
    EXPECT_TRUE(answers(fuse_));
}

}  // namespace
}  // namespace cwtrace
