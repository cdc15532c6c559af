// The search for a frameless syscall wrapper's caller (cwtrace/call_insn.h, run by the kernel
// side at every opening in fp mode) over a made-up address space, and the call decoding that it
// and userspace's follows_call() share.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

// A process's memory as the kernel side reads it: regions of bytes, a read outside one faults.
class FakeMemory {
  public:
    void put(uint64_t addr, std::vector<uint8_t> bytes) { regions_[addr] = std::move(bytes); }
    void put_word(uint64_t addr, uint64_t value) {
        std::vector<uint8_t> bytes(8);
        std::memcpy(bytes.data(), &value, 8);
        put(addr, bytes);
    }
    int read(void* dst, size_t size, uint64_t addr) const {
        std::memset(dst, 0, size);  // as bpf_probe_read_user() leaves it on a fault
        auto it = regions_.upper_bound(addr);
        if (it == regions_.begin()) return -EFAULT;
        --it;
        if (addr + size > it->first + it->second.size()) return -EFAULT;
        std::memcpy(dst, it->second.data() + (addr - it->first), size);
        return 0;
    }

  private:
    std::map<uint64_t, std::vector<uint8_t>> regions_;
};

const FakeMemory* g_memory = nullptr;

int fake_read(void* dst, size_t size, uint64_t addr) { return g_memory->read(dst, size, addr); }

}  // namespace

#define CW_READ_USER(dst, size, addr) fake_read(dst, size, addr)
#include "cwtrace/call_insn.h"
#include "symbols/call_site.h"

namespace {

std::vector<uint8_t> le32(int64_t value) {
    const auto v = static_cast<uint32_t>(static_cast<int32_t>(value));
    return {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
}

std::vector<uint8_t> cat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// glibc 2.36's accept4() in a process with more than one thread: entry, then its syscall's
// return address (the thread's ip) 0x58 bytes in, after sub $0x28,%rsp. Within 2 GB of the
// callers' code, so that a direct call (a static binary's) reaches it as well as a PLT entry.
constexpr uint64_t kWrapper = 0x555500080f50, kIp = kWrapper + 0x58;
constexpr uint64_t kOther = 0x555500090000;  // another function
constexpr uint64_t kSp = 0x7ffd00001000;

class LeafCaller : public ::testing::Test {
  protected:
    void SetUp() override {
        g_memory = &memory_;
        memory_.put(kWrapper, std::vector<uint8_t>(0x100, 0x90));
        memory_.put(kOther, std::vector<uint8_t>(0x100, 0x90));
    }
    void TearDown() override { g_memory = nullptr; }

    // A call instruction whose return address is `ret`, preceded by filler.
    void call_rel32(uint64_t ret, uint64_t callee) {
        memory_.put(ret - 8, cat({0x90, 0x90, 0x90, 0xe8}, le32(callee - ret)));
    }
    void call_rip_slot(uint64_t ret, uint64_t slot) {
        memory_.put(ret - 8, cat({0x90, 0x90, 0xff, 0x15}, le32(slot - ret)));
    }
    void call_register(uint64_t ret) {
        memory_.put(ret - 8, {0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0xff, 0xd0});
    }
    // A .plt.sec entry (endbr64; bnd jmp *slot(%rip)) at `at` whose slot holds `target`.
    void plt_entry(uint64_t at, uint64_t slot, uint64_t target) {
        auto entry = cat({0xf3, 0x0f, 0x1e, 0xfa, 0xf2, 0xff, 0x25}, le32(slot - (at + 11)));
        entry.resize(16, 0x90);  // a PLT entry's size
        memory_.put(at, entry);
        memory_.put_word(slot, target);
    }
    void stack(const std::vector<uint64_t>& words) {
        std::vector<uint8_t> bytes(words.size() * 8);
        std::memcpy(bytes.data(), words.data(), bytes.size());
        memory_.put(kSp, bytes);
    }

    FakeMemory memory_;
};

TEST_F(LeafCaller, AtTheStackPointerThroughAPltEntry) {
    const uint64_t ret = 0x555500001105;
    call_rel32(ret, 0x555500002000);
    plt_entry(0x555500002000, 0x555500004018, kWrapper);
    stack({ret, 0x7ffd00001100, 3});
    EXPECT_EQ(cw_leaf_caller(kSp, kIp), ret);
}

// The defect the fp tests found: sub $0x28,%rsp put the return address 5 words up; below it are
// the saved arguments and stale words, one a return address left by an earlier call to another
// function, which a search that only asked "follows a call?" would have taken.
TEST_F(LeafCaller, AboveAMovedStackPointerPastAStaleReturnAddress) {
    const uint64_t ret = 0x555500001105, stale = 0x555500001205;
    call_rel32(ret, 0x555500002000);
    plt_entry(0x555500002000, 0x555500004018, kWrapper);
    call_rel32(stale, kOther);
    stack({stale, kSp + 0x100, kSp + 0x108, 0x0000000800000003, stale, ret, kSp + 0x80});
    EXPECT_EQ(cw_leaf_caller(kSp, kIp), ret);
}

TEST_F(LeafCaller, ADirectCallAndACallThroughASlot) {
    const uint64_t direct = 0x555500001105, through_slot = 0x555500001305;
    call_rel32(direct, kWrapper);
    stack({3, direct});
    EXPECT_EQ(cw_leaf_caller(kSp, kIp), direct);

    call_rip_slot(through_slot, 0x555500004020);
    memory_.put_word(0x555500004020, kWrapper);
    stack({3, through_slot});
    EXPECT_EQ(cw_leaf_caller(kSp, kIp), through_slot);
}

TEST_F(LeafCaller, NoneWhenOnlyCallsToOtherFunctionsAreNear) {
    const uint64_t stale = 0x555500001205, to_plt = 0x555500001105;
    call_rel32(stale, kOther);
    call_rel32(to_plt, 0x555500002000);
    plt_entry(0x555500002000, 0x555500004018, kOther);  // another function's PLT entry
    stack({stale, to_plt, stale, to_plt, 0, 0, 0, 0, kWrapper + 0x10});
    EXPECT_EQ(cw_leaf_caller(kSp, kIp), 0u);
}

// The ninth word is beyond the search, whatever it holds.
TEST_F(LeafCaller, SearchesEightWords) {
    const uint64_t ret = 0x555500001105;
    call_rel32(ret, kWrapper);
    stack({1, 2, 3, 4, 5, 6, 7, ret});
    EXPECT_EQ(cw_leaf_caller(kSp, kIp), ret);
    stack({1, 2, 3, 4, 5, 6, 7, 8, ret});
    EXPECT_EQ(cw_leaf_caller(kSp, kIp), 0u);
}

// A call through a register names no callee: taken at the stack pointer only, as before the
// search (userspace then checks it in the file); above it, it could be any stale word.
TEST_F(LeafCaller, ACallThroughARegisterOnlyAtTheStackPointer) {
    const uint64_t by_register = 0x555500001405, ret = 0x555500001105;
    call_register(by_register);
    call_rel32(ret, kWrapper);
    stack({by_register, ret});
    EXPECT_EQ(cw_leaf_caller(kSp, kIp), by_register);
    stack({7, by_register, ret});
    EXPECT_EQ(cw_leaf_caller(kSp, kIp), ret);
}

// The thread is in the callee, but too far into it to be a syscall wrapper's.
TEST_F(LeafCaller, TheIpMustBeNearTheCalleesEntry) {
    const uint64_t ret = 0x555500001105;
    call_rel32(ret, kWrapper);
    stack({ret});
    EXPECT_EQ(cw_leaf_caller(kSp, kWrapper + CW_LEAF_WRAPPER_BYTES - 1), ret);
    EXPECT_EQ(cw_leaf_caller(kSp, kWrapper + CW_LEAF_WRAPPER_BYTES), 0u);
    EXPECT_EQ(cw_leaf_caller(kSp, kWrapper - 1), 0u);
}

// Near the top of the stack: the words that are there are searched, the search stops at the
// first that is not.
TEST_F(LeafCaller, StopsAtTheTopOfTheStack) {
    const uint64_t ret = 0x555500001105;
    call_rel32(ret, kWrapper);
    stack({3, ret});
    EXPECT_EQ(cw_leaf_caller(kSp, kIp), ret);
    stack({3});
    EXPECT_EQ(cw_leaf_caller(kSp, kIp), 0u);
    EXPECT_EQ(cw_leaf_caller(kSp + 0x100000, kIp), 0u);
}

TEST(CallDecoding, EachCallEncodingAndItsCallee) {
    const uint64_t ret = 0x1000;
    __u64 at = 0;
    auto decode = [&](std::vector<uint8_t> tail) {
        std::vector<uint8_t> code(CW_CALL_WINDOW - tail.size(), 0x90);
        code.insert(code.end(), tail.begin(), tail.end());
        at = 0;
        return cw_decode_call(code.data(), ret, &at);
    };
    EXPECT_EQ(decode(cat({0xe8}, le32(-0x100))), uint32_t{CW_CALL_REL32});
    EXPECT_EQ(at, ret - 0x100);
    EXPECT_EQ(decode(cat({0xff, 0x15}, le32(0x2000))), uint32_t{CW_CALL_RIP_SLOT});
    EXPECT_EQ(at, ret + 0x2000);
    EXPECT_EQ(decode({0xff, 0xd0}), uint32_t{CW_CALL_OTHER});                      // call *%rax
    EXPECT_EQ(decode({0xff, 0x50, 0x08}), uint32_t{CW_CALL_OTHER});                // call *8(%rax)
    EXPECT_EQ(decode(cat({0xff, 0x90}, le32(0x100))), uint32_t{CW_CALL_OTHER});    // disp32
    EXPECT_EQ(decode(cat({0xff, 0x94, 0x24}, le32(8))), uint32_t{CW_CALL_OTHER});  // SIB
    EXPECT_EQ(decode({0xff, 0xe0}), uint32_t{CW_CALL_NONE});                       // jmp *%rax
    EXPECT_EQ(decode({0x48, 0x89, 0xc7}), uint32_t{CW_CALL_NONE});                 // mov
    EXPECT_EQ(at, 0u);
}

TEST(CallDecoding, PltEntries) {
    const uint64_t at = 0x2000;
    auto slot = [&](std::vector<uint8_t> code) {
        code.resize(CW_PLT_WINDOW, 0x90);
        return cw_plt_slot(code.data(), at);
    };
    EXPECT_EQ(slot(cat({0xff, 0x25}, le32(0x100))), at + 6 + 0x100);  // .plt
    EXPECT_EQ(slot(cat({0xf2, 0xff, 0x25}, le32(0x100))), at + 7 + 0x100);
    EXPECT_EQ(slot(cat({0xf3, 0x0f, 0x1e, 0xfa, 0xff, 0x25}, le32(-0x40))), at + 10 - 0x40);
    EXPECT_EQ(slot(cat({0xf3, 0x0f, 0x1e, 0xfa, 0xf2, 0xff, 0x25}, le32(0x100))), at + 11 + 0x100);
    EXPECT_EQ(slot({0x55, 0x48, 0x89, 0xe5}), 0u);  // a function's prologue
    EXPECT_EQ(slot({0xf3, 0x0f, 0x1e, 0xfa, 0x55}), 0u);
}

// Userspace's check in the mapped file: the same decoding, at a file offset.
TEST(CallSite, FollowsCallReadsTheFile) {
    char path[] = "/tmp/cwtrace-call-site-XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    const std::vector<uint8_t> bytes =
        cat(cat({0x90, 0x90, 0x90, 0xe8}, le32(0x40)), {0x48, 0x89, 0xc7, 0x90});
    ASSERT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    close(fd);
    EXPECT_TRUE(cwtrace::follows_call(path, 8));
    EXPECT_FALSE(cwtrace::follows_call(path, 11));  // after the mov
    EXPECT_FALSE(cwtrace::follows_call(path, 7));   // too near the start to hold a call
    EXPECT_FALSE(cwtrace::follows_call(path, 64));  // past the end
    EXPECT_FALSE(cwtrace::follows_call("/nonexistent/cwtrace", 8));
    unlink(path);
}

}  // namespace
