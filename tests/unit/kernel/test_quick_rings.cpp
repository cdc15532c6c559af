#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "kernel/quick_rings.h"

using namespace cwtrace;

namespace {

// Rings laid out as the kernel's mapped array holds them, written as its program writes them.
class Rings {
  public:
    Rings(uint32_t rings, uint32_t slots)
        : slots_(slots), area_(rings * quick_ring_bytes(slots) / 8 + 1) {}

    std::span<std::byte> area() {
        return {reinterpret_cast<std::byte*>(area_.data()), area_.size() * 8 - 8};
    }
    cw_quick_ring& ring(uint32_t i) {
        return *reinterpret_cast<cw_quick_ring*>(area().data() + i * quick_ring_bytes(slots_));
    }
    // What the program does: false when the ring is full.
    bool put(uint32_t i, uint64_t sk, uint64_t ts_ns) {
        cw_quick_ring& r = ring(i);
        if (r.head - r.tail >= slots_) return false;
        cw_event_leave_quick e = {};
        e.hdr = {CW_EV_LEAVE_QUICK, sizeof e, ts_ns, sk};
        e.close_wait_ns = 1;
        auto* slots = reinterpret_cast<std::byte*>(&r + 1);
        std::memcpy(slots + (r.head & (slots_ - 1)) * sizeof e, &e, sizeof e);
        ++r.head;
        return true;
    }

  private:
    uint32_t slots_;
    std::vector<uint64_t> area_;  // 8-byte aligned, as the mapping is
};

// The socket addresses handed on, in order.
std::vector<uint64_t> consume(QuickRings& reader, uint64_t until_ns) {
    std::vector<uint64_t> out;
    reader.consume(until_ns, [&](std::span<const std::byte> record) {
        cw_event_leave_quick e;
        EXPECT_EQ(record.size(), sizeof e);
        std::memcpy(&e, record.data(), sizeof e);
        EXPECT_EQ(e.hdr.type, static_cast<uint32_t>(CW_EV_LEAVE_QUICK));
        out.push_back(e.hdr.sk);
    });
    return out;
}

}  // namespace

TEST(QuickRingSlots, APowerOfTwoWithinTheBudget) {
    EXPECT_EQ(quick_ring_slots(1), 4096u);
    EXPECT_EQ(quick_ring_slots(2), 4096u);
    EXPECT_EQ(quick_ring_slots(16), 2048u);
    EXPECT_EQ(quick_ring_slots(64), 512u);
    EXPECT_EQ(quick_ring_slots(4096), 256u) << "never fewer";
    EXPECT_EQ(quick_ring_slots(0), 4096u);
    for (uint32_t cpus : {1u, 3u, 7u, 24u, 96u, 1000u}) {
        const uint32_t slots = quick_ring_slots(cpus);
        EXPECT_EQ(slots & (slots - 1), 0u) << cpus;
    }
    EXPECT_EQ(quick_ring_bytes(4096), sizeof(cw_quick_ring) + 4096 * sizeof(cw_event_leave_quick));
}

TEST(QuickRings, EachRingInItsOrderAndEachRecordOnce) {
    Rings rings(2, 4);
    QuickRings reader(rings.area(), 2, 4);
    ASSERT_TRUE(rings.put(0, 0xa, 1));
    ASSERT_TRUE(rings.put(1, 0xb, 2));
    ASSERT_TRUE(rings.put(0, 0xc, 3));
    EXPECT_EQ(consume(reader, 100), (std::vector<uint64_t>{0xa, 0xc, 0xb}));
    EXPECT_EQ(reader.fullest(), 2u);
    EXPECT_TRUE(consume(reader, 100).empty());
    EXPECT_EQ(rings.ring(0).tail, 2u) << "the slots read are the kernel's again";
}

TEST(QuickRings, AFullRingRefusesUntilReadAndWrapsAround) {
    Rings rings(1, 4);
    QuickRings reader(rings.area(), 1, 4);
    for (uint64_t sk = 1; sk <= 4; ++sk) ASSERT_TRUE(rings.put(0, sk, sk));
    EXPECT_FALSE(rings.put(0, 5, 5)) << "full: this one takes the ring buffer";
    EXPECT_EQ(consume(reader, 100), (std::vector<uint64_t>{1, 2, 3, 4}));
    for (uint64_t sk = 6; sk <= 9; ++sk) ASSERT_TRUE(rings.put(0, sk, sk));
    EXPECT_EQ(consume(reader, 100), (std::vector<uint64_t>{6, 7, 8, 9}));
    EXPECT_EQ(rings.ring(0).head, 8u);
}

TEST(QuickRings, RecordsSentAfterTheBoundWaitForTheNextRead) {
    Rings rings(1, 8);
    QuickRings reader(rings.area(), 1, 8);
    ASSERT_TRUE(rings.put(0, 1, 10));
    ASSERT_TRUE(rings.put(0, 2, 20));
    ASSERT_TRUE(rings.put(0, 3, 30));
    EXPECT_EQ(consume(reader, 20), (std::vector<uint64_t>{1, 2}));
    EXPECT_EQ(consume(reader, 25), (std::vector<uint64_t>{}));
    EXPECT_EQ(consume(reader, UINT64_MAX), (std::vector<uint64_t>{3}));
}

TEST(QuickRings, AHeadBeyondTheSlotsIsSkippedAndCounted) {
    Rings rings(2, 4);
    QuickRings reader(rings.area(), 2, 4);
    ASSERT_TRUE(rings.put(1, 0xb, 1));
    rings.ring(0).head = 1000;  // not what the program writes
    EXPECT_EQ(consume(reader, 100), (std::vector<uint64_t>{0xb}));
    EXPECT_EQ(reader.corrupt(), 1u);
    EXPECT_EQ(rings.ring(0).tail, 1000u) << "read from there on";
    ASSERT_TRUE(rings.put(0, 0xa, 2));
    EXPECT_EQ(consume(reader, 100), (std::vector<uint64_t>{0xa}));
}

TEST(QuickRings, AnAreaSmallerThanTheRingsIsNotRead) {
    Rings rings(2, 4);
    ASSERT_TRUE(rings.put(0, 0xa, 1));
    QuickRings reader(rings.area().first(quick_ring_bytes(4)), 2, 4);
    EXPECT_TRUE(consume(reader, 100).empty());
}
