#include "python/python_linetable.h"

namespace cwtrace {
namespace {

constexpr int kCodeUnitBytes = 2;
constexpr int kNoLocation = 15;    // the entry's instructions have no line
constexpr int kLongForm = 14;      // line delta, end line delta, start and end columns
constexpr int kNoColumns = 13;     // line delta only
constexpr int kOneLineFirst = 10;  // 10..12: line delta is code - 10, two column bytes follow

// Reads the table one varint at a time; any read past the end marks it bad.
class Reader {
  public:
    explicit Reader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
    bool done() const { return pos_ >= bytes_.size(); }
    bool bad() const { return bad_; }
    uint8_t byte() {
        if (done()) {
            bad_ = true;
            return 0;
        }
        return bytes_[pos_++];
    }
    // 6 bits per byte, least significant first, 0x40 set while more follow.
    uint32_t varint() {
        uint32_t value = 0;
        for (int shift = 0; shift < 32; shift += 6) {
            const uint8_t b = byte();
            value |= static_cast<uint32_t>(b & 0x3f) << shift;
            if (!(b & 0x40)) return value;
        }
        bad_ = true;
        return value;
    }
    int svarint() {
        const uint32_t v = varint();
        return (v & 1) ? -static_cast<int>(v >> 1) : static_cast<int>(v >> 1);
    }
    void skip(int n) {
        for (int i = 0; i < n; ++i) byte();
    }

  private:
    std::span<const uint8_t> bytes_;
    size_t pos_ = 0;
    bool bad_ = false;
};

}  // namespace

std::optional<int> python_line_at(std::span<const uint8_t> table, int first_line, uint32_t offset) {
    Reader in(table);
    int line = first_line;
    uint64_t start = 0;
    while (!in.done()) {
        const uint8_t head = in.byte();
        if (!(head & 0x80)) return std::nullopt;  // every entry starts with the high bit set
        const int code = (head >> 3) & 0x0f;
        const uint64_t end = start + ((head & 0x07) + 1) * kCodeUnitBytes;
        int delta = 0;
        if (code == kNoLocation) {
        } else if (code == kLongForm) {
            delta = in.svarint();
            in.varint();
            in.varint();
            in.varint();
        } else if (code == kNoColumns) {
            delta = in.svarint();
        } else if (code >= kOneLineFirst) {
            delta = code - kOneLineFirst;
            in.skip(2);
        } else {
            in.skip(1);  // short form: same line, one column byte
        }
        if (in.bad()) return std::nullopt;
        line += delta;
        if (offset < end) return code == kNoLocation ? std::nullopt : std::optional<int>(line);
        start = end;
    }
    return std::nullopt;
}

}  // namespace cwtrace
