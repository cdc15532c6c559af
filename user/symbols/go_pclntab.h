// Go's own symbol table, .gopclntab: function names, files and lines of every Go function,
// kept by the linker even in binaries stripped with -ldflags='-s -w' (the runtime needs it for
// tracebacks), so stripped Go services are named as `go tool` names them. Go 1.16+ layouts
// (pcHeader magics 0xfffffffa, 0xfffffff0, 0xfffffff1), after src/debug/gosym/pclntab.go and
// src/runtime/symtab.go. The bytes come from a file another process maps: every offset and
// count is checked against the table's size, and nothing is allocated by what it claims.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cwtrace {

// A call the compiler inlined, where a PC is in it.
struct GoInlinedCall {
    std::string function;  // "net/http.Get"
    std::string file;      // its own source: "/usr/lib/go-1.19/src/net/http/client.go"
    uint32_t line = 0;     // the PC's line in it (in a caller of another inlined call: that call's)
    bool operator==(const GoInlinedCall&) const = default;
};

// What the table says of one PC.
struct GoFunction {
    std::string function;  // "main.openConnection", "net/http.(*Transport).dialConn"
    std::string file;      // absolute, as compiled; "" when the table names none
    uint32_t line = 0;     // 0 when the table names none
    uint64_t entry = 0;    // the function's first instruction (ELF virtual address)
    // The calls the compiler inlined where the PC is, innermost first, as Go's tracebacks and
    // `addr2line -i` list them; file and line are then those of the outermost call, in
    // `function`, as a symbol table's name goes with them.
    std::vector<GoInlinedCall> inlined;
};

class GoPclntab {
  public:
    // The largest table read: Kubernetes' binaries have ~40 MB ones.
    static constexpr uint64_t kMaxBytes = uint64_t{256} << 20;

    // From the ELF file open at `fd` (checked as untrusted_file.h says): its .gopclntab section,
    // else a pcHeader found in its read-only segments (no section headers). nullopt when the
    // file has none or it does not hold together.
    static std::optional<GoPclntab> load(int fd);
    // From the table's bytes (from its pcHeader on). `text_start` stands in for the header's
    // textStart when that is 0 (relocated at run time in a PIE): the .text section's address.
    // `gofunc`: the bytes of go.func.* on, where inline trees are, when the caller has them.
    static std::optional<GoPclntab> parse(std::vector<uint8_t> bytes, uint64_t text_start = 0,
                                          std::vector<uint8_t> gofunc = {});

    // The function whose code holds the ELF virtual address `pc`; nullopt outside Go's text.
    std::optional<GoFunction> lookup(uint64_t pc) const;
    size_t functions() const { return nfunc_; }
    // The Go release family the layout belongs to: "1.16", "1.18" or "1.20".
    std::string_view layout() const;

    // A loaded segment of the binary: where moduledata and go.func.* are searched.
    struct Segment {
        uint64_t vaddr = 0;
        std::vector<uint8_t> bytes;
    };

  private:
    enum class Layout : uint8_t { Go116, Go118, Go120 };
    GoPclntab() = default;

    // Finds go.func.* (where Go 1.18+ keeps inline trees) through the moduledata that points at
    // the pcHeader at `header_vaddr`, and keeps its bytes.
    void attach_gofunc(const std::vector<Segment>& segments, uint64_t header_vaddr);
    // The PC of the outermost call the code at `pc` was inlined into (`pc` when none). The
    // functions inlined there, innermost first, go to `inlined` (named), and the PC standing for
    // each to `at`: `pc` for the innermost, then each call's inline mark in its caller.
    uint64_t call_site(uint64_t func, uint64_t entry, uint64_t pc,
                       std::vector<GoInlinedCall>& inlined, std::vector<uint64_t>& at) const;
    // The file and line the pc-value tables of the function at `func` give `pc`.
    void position(uint64_t func, uint64_t entry, uint64_t pc, std::string& file,
                  uint32_t& line) const;

    uint64_t word(uint64_t off, unsigned size) const;  // 0 past the end
    uint32_t u32(uint64_t off) const { return static_cast<uint32_t>(word(off, 4)); }
    std::string_view string_at(uint64_t off) const;  // NUL-terminated, within the table
    uint64_t functab_field(uint64_t index) const;    // the functab's index-th word
    uint64_t entry_of(uint64_t index) const;         // the index-th function's entry PC
    // The value of the pc-value table at `table` (from pctab) for `pc`, in a function at `entry`.
    std::optional<int32_t> pc_value(uint32_t table, uint64_t entry, uint64_t pc) const;
    bool valid() const;

    std::vector<uint8_t> bytes_;
    std::vector<uint8_t> gofunc_;  // from go.func.* to its segment's end; empty: not found
    Layout layout_ = Layout::Go120;
    bool big_endian_ = false;
    unsigned quantum_ = 1, ptr_size_ = 8;
    uint64_t nfunc_ = 0, text_start_ = 0;
    uint64_t funcnametab_ = 0, cutab_ = 0, filetab_ = 0, pctab_ = 0, functab_ = 0;
};

}  // namespace cwtrace
