// Reading Go's pclntab: the pcHeader, the functab, _func records and pc-value tables; see
// go_pclntab.h. Offsets are checked before every read, and reads past the end yield 0.
#include "symbols/go_pclntab.h"

#include <algorithm>
#include <cstring>

#include "symbols/go_pclntab_bytes.h"

namespace cwtrace {
namespace {

constexpr uint32_t kMagic116 = 0xfffffffa;  // Go 1.16, 1.17
constexpr uint32_t kMagic118 = 0xfffffff0;  // Go 1.18, 1.19
constexpr uint32_t kMagic120 = 0xfffffff1;  // Go 1.20 and later
// _func holds nine 4-byte fields after its entry (nameOff .. cuOffset): what a record must fit.
constexpr uint64_t kFuncFieldsBytes = 9 * 4;
constexpr uint64_t kMaxStringBytes = 64 << 10;  // a name or path; generics make long names
// Steps of one pc-value table walked for one PC: a real function's table has a few hundred.
constexpr uint64_t kMaxPcValueSteps = 1 << 20;

}  // namespace

uint64_t load_word(const std::vector<uint8_t>& bytes, uint64_t off, unsigned size,
                   bool big_endian) {
    if (!fits(off, size, bytes.size())) return 0;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; ++i) {
        const unsigned shift = big_endian ? 8 * (size - 1 - i) : 8 * i;
        v |= uint64_t{bytes[off + i]} << shift;
    }
    return v;
}

uint64_t GoPclntab::word(uint64_t off, unsigned size) const {
    return load_word(bytes_, off, size, big_endian_);
}

std::string_view GoPclntab::string_at(uint64_t off) const {
    if (off >= bytes_.size()) return {};
    const char* begin = reinterpret_cast<const char*>(bytes_.data()) + off;
    const size_t span = std::min<uint64_t>(bytes_.size() - off, kMaxStringBytes);
    const void* nul = std::memchr(begin, '\0', span);
    if (nul == nullptr) return {};
    return {begin, static_cast<size_t>(static_cast<const char*>(nul) - begin)};
}

uint64_t GoPclntab::functab_field(uint64_t index) const {
    const unsigned size = layout_ == Layout::Go116 ? ptr_size_ : 4;
    return word(functab_ + index * size, size);
}

uint64_t GoPclntab::entry_of(uint64_t index) const {
    const uint64_t field = functab_field(2 * index);
    return layout_ == Layout::Go116 ? field : text_start_ + field;
}

std::string_view GoPclntab::layout() const {
    switch (layout_) {
        case Layout::Go116:
            return "1.16";
        case Layout::Go118:
            return "1.18";
        case Layout::Go120:
            return "1.20";
    }
    return "";
}

std::optional<GoPclntab> GoPclntab::parse(std::vector<uint8_t> bytes, uint64_t text_start,
                                          std::vector<uint8_t> gofunc) {
    if (bytes.size() < 8 || bytes.size() > kMaxBytes || gofunc.size() > kMaxBytes)
        return std::nullopt;
    GoPclntab t;
    t.bytes_ = std::move(bytes);
    t.gofunc_ = std::move(gofunc);
    // The byte order is the target's: the magic reads right in one of them.
    const uint32_t little = t.u32(0);
    t.big_endian_ = little != kMagic120 && little != kMagic118 && little != kMagic116;
    switch (t.u32(0)) {
        case kMagic120:
            t.layout_ = Layout::Go120;
            break;
        case kMagic118:
            t.layout_ = Layout::Go118;
            break;
        case kMagic116:
            t.layout_ = Layout::Go116;
            break;
        default:
            return std::nullopt;
    }
    const uint8_t* h = t.bytes_.data();
    t.quantum_ = h[6];
    t.ptr_size_ = h[7];
    if (h[4] != 0 || h[5] != 0 || (t.quantum_ != 1 && t.quantum_ != 2 && t.quantum_ != 4) ||
        (t.ptr_size_ != 4 && t.ptr_size_ != 8))
        return std::nullopt;
    // nfunc, nfiles, [textStart,] funcnameOffset, cuOffset, filetabOffset, pctabOffset,
    // pclnOffset: one pointer-sized word each.
    uint64_t field = 8;
    auto next = [&t, &field] {
        const uint64_t v = t.word(field, t.ptr_size_);
        field += t.ptr_size_;
        return v;
    };
    t.nfunc_ = next();
    next();  // nfiles: the cutab says which a function uses
    if (t.layout_ != Layout::Go116) t.text_start_ = next();
    if (t.text_start_ == 0) t.text_start_ = text_start;
    t.funcnametab_ = next();
    t.cutab_ = next();
    t.filetab_ = next();
    t.pctab_ = next();
    t.functab_ = next();
    if (field > t.bytes_.size() || !t.valid()) return std::nullopt;
    return t;
}

// The functab and the first and last functions' records must lie within the table and agree
// on their entries: what tells a table from bytes that merely start with a magic.
bool GoPclntab::valid() const {
    const uint64_t size = bytes_.size();
    for (uint64_t off : {funcnametab_, cutab_, filetab_, pctab_, functab_})
        if (off > size) return false;
    const uint64_t field = layout_ == Layout::Go116 ? ptr_size_ : 4;
    // nfunc entry/func pairs and the end PC.
    if (nfunc_ == 0 || nfunc_ > (size - functab_) / (2 * field) ||
        !fits(functab_, (2 * nfunc_ + 1) * field, size))
        return false;
    for (uint64_t i : {uint64_t{0}, nfunc_ - 1}) {
        const uint64_t func = functab_ + functab_field(2 * i + 1);
        if (!fits(func, field + kFuncFieldsBytes, size) ||
            word(func, static_cast<unsigned>(field)) != functab_field(2 * i))
            return false;
    }
    return entry_of(0) < entry_of(nfunc_);
}

std::optional<int32_t> GoPclntab::pc_value(uint32_t table, uint64_t entry, uint64_t pc) const {
    if (table == 0) return std::nullopt;
    uint64_t p = pctab_ + table;
    auto varint = [this, &p]() -> std::optional<uint32_t> {
        uint32_t v = 0;
        for (unsigned shift = 0; shift < 35 && p < bytes_.size(); shift += 7) {
            const uint8_t b = bytes_[p++];
            v |= static_cast<uint32_t>(b & 0x7f) << shift;
            if ((b & 0x80) == 0) return v;
        }
        return std::nullopt;
    };
    // Go's pcvalue: the value starts at -1 and PCs at the entry; each step is a zig-zag value
    // delta, then a PC delta in instruction quanta; a zero value delta past the first ends it.
    uint32_t value = UINT32_MAX;
    uint64_t cur = entry;
    for (uint64_t step = 0; step < kMaxPcValueSteps; ++step) {
        const auto value_delta = varint();
        if (!value_delta || (*value_delta == 0 && step > 0)) return std::nullopt;
        value += (0u - (*value_delta & 1)) ^ (*value_delta >> 1);
        const auto pc_delta = varint();
        if (!pc_delta) return std::nullopt;
        cur += uint64_t{*pc_delta} * quantum_;
        if (pc < cur) return static_cast<int32_t>(value);
    }
    return std::nullopt;
}

std::optional<GoFunction> GoPclntab::lookup(uint64_t pc) const {
    if (pc < entry_of(0) || pc >= entry_of(nfunc_)) return std::nullopt;
    // The last function whose entry is at or before pc.
    uint64_t lo = 0, hi = nfunc_;
    while (hi - lo > 1) {
        const uint64_t mid = lo + (hi - lo) / 2;
        (entry_of(mid) <= pc ? lo : hi) = mid;
    }
    const uint64_t field = layout_ == Layout::Go116 ? ptr_size_ : 4;
    const uint64_t func = functab_ + functab_field(2 * lo + 1);
    if (!fits(func, field + kFuncFieldsBytes, bytes_.size()) ||
        word(func, static_cast<unsigned>(field)) != functab_field(2 * lo))
        return std::nullopt;
    GoFunction out;
    out.entry = entry_of(lo);
    out.function = std::string(string_at(funcnametab_ + u32(func + field)));
    if (out.function.empty()) return std::nullopt;
    std::vector<uint64_t> at;
    pc = call_site(func, out.entry, pc, out.inlined, at);
    for (size_t i = 0; i < out.inlined.size(); ++i)
        position(func, out.entry, at[i], out.inlined[i].file, out.inlined[i].line);
    position(func, out.entry, pc, out.file, out.line);
    return out;
}

void GoPclntab::position(uint64_t func, uint64_t entry, uint64_t pc, std::string& file,
                         uint32_t& line) const {
    // After the entry and nameOff: args, deferreturn, pcsp, pcfile, pcln, npcdata, cuOffset.
    const uint64_t field = layout_ == Layout::Go116 ? ptr_size_ : 4;
    const uint32_t pcfile = u32(func + field + 16), pcln = u32(func + field + 20);
    const uint32_t cu = u32(func + field + 28);
    if (auto value = pc_value(pcln, entry, pc); value && *value > 0)
        line = static_cast<uint32_t>(*value);
    // The file number indexes the function's compilation unit's slice of the cutab, whose
    // entries are offsets into the filetab (~0: none).
    if (auto number = pc_value(pcfile, entry, pc); number && *number >= 0) {
        const uint64_t slot = cutab_ + 4 * (uint64_t{cu} + static_cast<uint64_t>(*number));
        if (fits(slot, 4, bytes_.size()) && u32(slot) != UINT32_MAX)
            file = std::string(string_at(filetab_ + u32(slot)));
    }
}

}  // namespace cwtrace
