// Inlined calls in Go's pclntab (1.18+): each function's inline tree (FUNCDATA_InlTree) lives in
// go.func.*, which only the binary's moduledata locates, and PCDATA_InlTreeIndex says which of
// its calls the code at a PC came from; see go_pclntab.h. A tree's entries are bounded by the
// bytes kept, chains by a depth.
#include "symbols/go_pclntab.h"
#include "symbols/go_pclntab_bytes.h"

namespace cwtrace {
namespace {

constexpr uint32_t kPcdataInlTreeIndex = 2;
constexpr uint32_t kFuncdataInlTree = 3;
constexpr int kMaxInlineDepth = 64;

// moduledata's words: pcHeader, then the funcnametab slice; ..., types, etypes, rodata, gofunc
// (gofunc is the 39th word in 1.18 and 1.19, the 41st from 1.20, which added covctrs/ecovctrs).
constexpr uint64_t kGofuncWord118 = 38, kGofuncWord120 = 40;

}  // namespace

void GoPclntab::attach_gofunc(const std::vector<Segment>& segments, uint64_t header_vaddr) {
    const unsigned p = ptr_size_;
    const uint64_t gofunc_word = layout_ == Layout::Go118 ? kGofuncWord118 : kGofuncWord120;
    for (const Segment& seg : segments) {
        for (uint64_t at = 0; fits(at, (gofunc_word + 1) * p, seg.bytes.size()); at += p) {
            auto w = [&](uint64_t i) { return load_word(seg.bytes, at + i * p, p, big_endian_); };
            if (w(0) != header_vaddr || w(1) != header_vaddr + funcnametab_) continue;
            const uint64_t types = w(gofunc_word - 3), rodata = w(gofunc_word - 1);
            const uint64_t gofunc = w(gofunc_word);
            if (types != rodata || gofunc < rodata) continue;
            for (const Segment& home : segments) {
                if (gofunc >= home.vaddr && gofunc - home.vaddr < home.bytes.size()) {
                    const auto from = static_cast<ptrdiff_t>(gofunc - home.vaddr);
                    gofunc_.assign(home.bytes.begin() + from, home.bytes.end());
                    if (gofunc_.size() > kMaxBytes) gofunc_.clear();
                    return;
                }
            }
        }
    }
}

uint64_t GoPclntab::call_site(uint64_t func, uint64_t entry, uint64_t pc,
                              std::vector<GoInlinedCall>& inlined,
                              std::vector<uint64_t>& at) const {
    if (gofunc_.empty() || layout_ == Layout::Go116) return pc;
    // _func's fixed part ends with nfuncdata: 40 bytes, 44 from 1.20 (startLine); pcdata and
    // funcdata offsets (uint32) follow.
    const uint64_t fixed = layout_ == Layout::Go120 ? 44 : 40;
    if (!fits(func, fixed, bytes_.size())) return pc;
    const uint64_t npcdata = u32(func + 28), nfuncdata = bytes_[func + fixed - 1];
    if (npcdata <= kPcdataInlTreeIndex || nfuncdata <= kFuncdataInlTree ||
        !fits(func + fixed, 4 * (npcdata + nfuncdata), bytes_.size()))
        return pc;
    const uint32_t index_table = u32(func + fixed + 4 * kPcdataInlTreeIndex);
    const uint32_t tree = u32(func + fixed + 4 * (npcdata + kFuncdataInlTree));
    if (tree == UINT32_MAX) return pc;
    // inlinedCall: 1.18 {parent int16, funcID, _, file, line, func_ (nameOff), parentPc};
    // 1.20 {funcID, _[3], nameOff, parentPc, startLine}.
    const bool go120 = layout_ == Layout::Go120;
    const uint64_t size = go120 ? 16 : 20, name_at = go120 ? 4 : 12, parent_pc_at = go120 ? 8 : 16;
    for (int depth = 0; depth < kMaxInlineDepth; ++depth) {
        const auto index = pc_value(index_table, entry, pc);
        if (!index || *index < 0) break;
        const uint64_t call = uint64_t{tree} + size * static_cast<uint64_t>(*index);
        if (!fits(call, size, gofunc_.size())) break;
        const auto name_off = load_word(gofunc_, call + name_at, 4, big_endian_);
        const std::string_view name = string_at(funcnametab_ + name_off);
        if (name.empty()) break;
        inlined.push_back({std::string(name), "", 0});
        at.push_back(pc);
        const auto parent_pc =
            static_cast<int32_t>(load_word(gofunc_, call + parent_pc_at, 4, big_endian_));
        if (parent_pc < 0) break;
        pc = entry + static_cast<uint64_t>(parent_pc);
    }
    return pc;
}

}  // namespace cwtrace
