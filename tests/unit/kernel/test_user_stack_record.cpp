// Dwarf mode's records and what userspace keeps of them: the stack-copy record is decoded with
// its bounds checked, and unwound stacks are kept per opening, interned.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "app/cli.h"
#include "kernel/decoder.h"
#include "unwind/unwound_stacks.h"

namespace cwtrace {
namespace {

std::vector<std::byte> user_stack_record(uint32_t reserved, uint32_t copied) {
    cw_event_user_stack head = {};
    head.hdr.type = CW_EV_USER_STACK;
    head.hdr.size = static_cast<uint32_t>(sizeof head) + reserved;
    head.hdr.sk = 0xffff888012345678;
    head.ip = 0x7f0000001234;
    head.sp = 0x7ffc00001000;
    head.stack_bytes = copied;
    std::vector<std::byte> bytes(sizeof head + reserved, std::byte{0xab});
    std::memcpy(bytes.data(), &head, sizeof head);
    return bytes;
}

TEST(UserStackRecordTest, DecodesRegistersAndTheCopiedBytesOnly) {
    auto bytes = user_stack_record(1024, 512);
    Decoded d = decode_event(bytes);
    ASSERT_TRUE(std::holds_alternative<Event>(d));
    const auto& rec = std::get<UserStackRecord>(std::get<Event>(d));
    EXPECT_EQ(rec.head.ip, 0x7f0000001234u);
    EXPECT_EQ(rec.head.sp, 0x7ffc00001000u);
    EXPECT_EQ(rec.stack.size(), 512u);
    EXPECT_EQ(rec.stack.data(), bytes.data() + sizeof(cw_event_user_stack));
}

TEST(UserStackRecordTest, RejectsCopiesLargerThanTheRecordAndShortRecords) {
    auto too_much = user_stack_record(512, 1024);
    EXPECT_EQ(std::get<DecodeError>(decode_event(too_much)), DecodeError::BadSize);
    auto truncated = user_stack_record(1024, 512);
    truncated.resize(truncated.size() - 1);  // declares more than it holds
    EXPECT_EQ(std::get<DecodeError>(decode_event(truncated)), DecodeError::BadSize);
}

TEST(UnwoundStacksTest, KeptPerOpeningAndInterned) {
    UnwoundStacks stacks;
    const std::vector<uint64_t> path = {0x10, 0x20, 0x30};
    for (uint64_t sk = 1; sk <= 1000; ++sk) stacks.add(sk, 100 + sk, path);
    EXPECT_EQ(stacks.sockets(), 1000u);
    EXPECT_EQ(stacks.distinct_stacks(), 1u);
    auto id = stacks.find(7, 107);
    ASSERT_TRUE(id);
    EXPECT_EQ(stacks.stack(*id), path);
    // Another opening's time: the socket at that address is not the one unwound.
    EXPECT_FALSE(stacks.find(7, 999));
    EXPECT_FALSE(stacks.find(5000, 0));
    // The address reused by a later socket: the earlier opening is still found (its leave may
    // be read after the later copy), until a third takes the address.
    stacks.add(7, 2000, {0x40});
    ASSERT_TRUE(stacks.find(7, 107));
    EXPECT_EQ(stacks.stack(*stacks.find(7, 107)), path);
    ASSERT_TRUE(stacks.find(7, 2000));
    EXPECT_EQ(stacks.stack(*stacks.find(7, 2000)), std::vector<uint64_t>{0x40});
    EXPECT_EQ(stacks.distinct_stacks(), 2u);
    stacks.add(7, 3000, {0x50});
    EXPECT_FALSE(stacks.find(7, 107));
    EXPECT_TRUE(stacks.find(7, 2000));
    EXPECT_TRUE(stacks.find(7, 3000));
    EXPECT_FALSE(stacks.find(8, 0)) << "no opening at time 0";
}

CliResult parse(std::vector<const char*> args) {
    args.insert(args.begin(), "cwtrace");
    return parse_cli(static_cast<int>(args.size()), args.data());
}

TEST(UserStacksFlagTest, DwarfByDefaultFpOnRequest) {
    auto defaults = parse({});
    ASSERT_TRUE(defaults.options);
    EXPECT_EQ(defaults.options->user_stacks, UserStacks::Dwarf);
    EXPECT_EQ(defaults.options->user_stack_bytes, uint32_t{CW_DEFAULT_USER_STACK_BYTES});
    auto fp = parse({"--user-stacks", "fp", "--user-stack-bytes", "4096"});
    ASSERT_TRUE(fp.options) << fp.message;
    EXPECT_EQ(fp.options->user_stacks, UserStacks::FramePointers);
    EXPECT_EQ(fp.options->user_stack_bytes, 4096u);
}

TEST(UserStacksFlagTest, BadValuesAreUsageErrorsNamingThem) {
    for (auto args : std::vector<std::vector<const char*>>{{"--user-stacks", "lbr"},
                                                           {"--user-stack-bytes", "1000"},
                                                           {"--user-stack-bytes", "32768"},
                                                           {"--user-stack-bytes", "0"},
                                                           {"--user-stack-bytes", "8k"}}) {
        auto r = parse(args);
        EXPECT_FALSE(r.options);
        EXPECT_EQ(r.exit_code, 2);
        EXPECT_NE(r.message.find(args[1]), std::string::npos) << r.message;
    }
}

}  // namespace
}  // namespace cwtrace
