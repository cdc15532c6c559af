// Unwinding copied user stacks with libdwfl; see unwind/unwind_dwarf.h.
#include "unwind/unwind_dwarf.h"

#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>
#include <tuple>

#include "symbols/debug_files.h"
#include "util/display.h"

namespace cwtrace {
namespace {

// DWARF register numbers of x86-64.
constexpr int kDwarfRbp = 6;
constexpr int kDwarfRsp = 7;
// Memoized unwinds kept per process before the memo starts over, and per (ip, bp - sp).
constexpr size_t kMaxMemoEntries = 4096;
constexpr size_t kMaxMemoPerKey = 8;
constexpr size_t kMaxModules = 512;

// The load bias of the file mapped executable at [start, ...) from `file_offset`: what its ELF
// virtual addresses are shifted by in the process.
std::optional<uint64_t> load_bias(const Mapping& m, int fd) {
    std::optional<uint64_t> bias;
    if (Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr)) {
        size_t phnum = 0;
        if (elf_kind(elf) == ELF_K_ELF && elf_getphdrnum(elf, &phnum) == 0) {
            for (size_t i = 0; i < phnum && !bias; ++i) {
                GElf_Phdr ph;
                if (!gelf_getphdr(elf, static_cast<int>(i), &ph) || ph.p_type != PT_LOAD) continue;
                if (m.file_offset < ph.p_offset || m.file_offset - ph.p_offset >= ph.p_filesz)
                    continue;
                bias = m.start - (ph.p_vaddr + (m.file_offset - ph.p_offset));
            }
        }
        // libdw would open the file's altlink itself, wherever it points (debug_files.h).
        if (!altlink_is_safe(elf)) bias.reset();
        elf_end(elf);
    }
    return bias;
}

// What a saved word that is no return address is changed by, to see whether the unwind's result
// depends on it (multiple of 8: an address stays as aligned as it was).
constexpr uint64_t kChange = 0x5a5a5a5a5a5a5a58ULL;
// Words pointing into the stack copy tried one by one: an unwind each, once per unwind made.
constexpr size_t kMaxWordsProbedAlone = 32;

struct Memo {
    std::vector<StackRead> reads;
    std::vector<uint64_t> frames;
    std::vector<StackRead> depends_on;  // the reads the frames depend on (see unwind())
};

bool same_offsets(const std::vector<StackRead>& a, const std::vector<StackRead>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](const StackRead& x, const StackRead& y) { return x.offset == y.offset; });
}

std::optional<uint64_t> word_at(const StackSample& s, int64_t offset) {
    if (offset < 0 || static_cast<uint64_t>(offset) + 8 > s.stack.size()) return std::nullopt;
    uint64_t value;
    std::memcpy(&value, s.stack.data() + offset, sizeof value);
    return value;
}

bool matches(const Memo& memo, const StackSample& s) {
    for (const StackRead& r : memo.reads)
        if (word_at(s, r.offset) != r.value) return false;
    return true;
}

}  // namespace

struct ProcessUnwinder::Impl {
    Dwfl* dwfl = nullptr;
    std::string debug_root = "/usr/lib/debug";
    char* debuginfo_path = nullptr;
    Dwfl_Callbacks callbacks = {};
    // The sample being unwound, and what the unwinder read of it.
    const StackSample* sample = nullptr;
    std::vector<StackRead> reads;
    std::vector<uint64_t> frames;
    size_t max_frames = 0;
    // (ip, sp, bp) -> earlier unwinds from there. sp itself, not only bp - sp, is in the key:
    // a saved frame pointer read from the stack is an absolute address the unwinder may follow.
    std::map<std::tuple<uint64_t, uint64_t, uint64_t>, std::vector<Memo>> memo;
    size_t memo_entries = 0;

    ~Impl() {
        if (dwfl) dwfl_end(dwfl);
    }

    static pid_t next_thread(Dwfl*, void* dwfl_arg, void** thread_argp) {
        if (*thread_argp != nullptr) return 0;  // one thread: the sample's
        *thread_argp = dwfl_arg;
        return static_cast<pid_t>(static_cast<Impl*>(dwfl_arg)->sample->tid);
    }

    static bool memory_read(Dwfl*, Dwarf_Addr addr, Dwarf_Word* result, void* dwfl_arg) {
        auto* self = static_cast<Impl*>(dwfl_arg);
        const StackSample& s = *self->sample;
        // Wraps for addresses below sp: then far out of the copy, as it should be.
        const auto offset = static_cast<int64_t>(addr - s.sp);
        std::optional<uint64_t> value = word_at(s, offset);
        self->reads.push_back({offset, value});
        if (!value) return false;
        *result = *value;
        return true;
    }

    static bool set_initial_registers(Dwfl_Thread* thread, void* thread_arg) {
        const StackSample& s = *static_cast<Impl*>(thread_arg)->sample;
        Dwarf_Word bp = s.bp, sp = s.sp;
        if (!dwfl_thread_state_registers(thread, kDwarfRbp, 1, &bp) ||
            !dwfl_thread_state_registers(thread, kDwarfRsp, 1, &sp))
            return false;
        dwfl_thread_state_register_pc(thread, s.ip);
        return true;
    }

    static int on_frame(Dwfl_Frame* frame, void* arg) {
        auto* self = static_cast<Impl*>(arg);
        Dwarf_Addr pc;
        bool activation = false;
        if (!dwfl_frame_pc(frame, &pc, &activation) || pc == 0) return DWARF_CB_ABORT;
        self->frames.push_back(pc);
        return self->frames.size() >= self->max_frames ? DWARF_CB_ABORT : DWARF_CB_OK;
    }

    // Whether the unwind of `s` with the words of `change` altered (each to its value ^
    // kChange) finds the frames of the unwind just made, through reads at the same offsets;
    // that unwind's frames and reads are kept.
    bool unchanged_by(const StackSample& s, const std::vector<StackRead>& change) {
        std::vector<std::byte> changed(s.stack.begin(), s.stack.end());
        for (const StackRead& r : change) {
            const uint64_t other = *r.value ^ kChange;
            std::memcpy(changed.data() + r.offset, &other, sizeof other);
        }
        StackSample probe = s;
        probe.stack = changed;
        std::vector<StackRead> first_reads = std::move(reads);
        std::vector<uint64_t> first_frames = std::move(frames);
        run(probe);
        const bool same = frames == first_frames && same_offsets(reads, first_reads);
        reads = std::move(first_reads);
        frames = std::move(first_frames);
        return same;
    }

    // The reads the unwind just made whose values its frames depend on. An unwind also reads
    // the callee-saved registers each frame saved (a loop counter, a pointer), which change
    // from call to call without changing a frame; a memo keeping one would answer no later
    // opening (each would send the kernel a stack copy). Those words, changed together, must
    // give the same frames through the same reads. When they do not, some matter: in code with
    // frame pointers the next frame is found through a saved rbp, a word pointing into the
    // copy. Then the words pointing elsewhere, changed together, must make no difference, and
    // of those pointing into the copy each that makes none alone (up to kMaxWordsProbedAlone
    // are tried, all confirmed together) is left out too. Else every read counts.
    std::vector<StackRead> dependencies(const StackSample& s) {
        std::vector<StackRead> kept, candidates;
        for (const StackRead& r : reads) {
            const bool frame =
                !r.value || std::find(frames.begin(), frames.end(), *r.value) != frames.end();
            (frame ? kept : candidates).push_back(r);
        }
        if (candidates.empty()) return reads;
        if (unchanged_by(s, candidates)) return kept;
        std::vector<StackRead> free, into_copy;
        for (const StackRead& r : candidates) {
            const bool in_copy = *r.value >= s.sp && *r.value - s.sp < s.stack.size();
            (in_copy ? into_copy : free).push_back(r);
        }
        if (!free.empty() && !unchanged_by(s, free)) return reads;
        if (into_copy.size() <= kMaxWordsProbedAlone) {
            std::vector<StackRead> more = free;
            for (const StackRead& r : into_copy)
                if (unchanged_by(s, {r})) more.push_back(r);
            if (more.size() > free.size() && unchanged_by(s, more)) free = std::move(more);
        }
        if (free.empty()) return reads;
        std::vector<StackRead> depends_on;
        for (const StackRead& r : reads)
            if (std::find(free.begin(), free.end(), r) == free.end()) depends_on.push_back(r);
        return depends_on;
    }

    // One unwind of `s` into frames and reads.
    void run(const StackSample& s) {
        sample = &s;
        reads.clear();
        frames.clear();
        // Ends with an error at the outermost frame as a rule: the frames so far are the result.
        dwfl_getthread_frames(dwfl, static_cast<pid_t>(s.tid), &Impl::on_frame, this);
        sample = nullptr;
    }

    void remember(const std::tuple<uint64_t, uint64_t, uint64_t>& key,
                  std::vector<StackRead> depends_on) {
        if (memo_entries >= kMaxMemoEntries) {
            memo.clear();
            memo_entries = 0;
        }
        std::vector<Memo>& list = memo[key];
        if (list.size() >= kMaxMemoPerKey)
            list.erase(list.begin());
        else
            ++memo_entries;
        list.push_back({reads, frames, std::move(depends_on)});
    }
};

const Dwfl_Thread_Callbacks kThreadCallbacks = {
    .next_thread = &ProcessUnwinder::Impl::next_thread,
    .get_thread = nullptr,
    .memory_read = &ProcessUnwinder::Impl::memory_read,
    .set_initial_registers = &ProcessUnwinder::Impl::set_initial_registers,
    .detach = nullptr,
    .thread_detach = nullptr,
};

ProcessUnwinder::ProcessUnwinder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProcessUnwinder::~ProcessUnwinder() = default;

std::unique_ptr<ProcessUnwinder> ProcessUnwinder::create(pid_t pid, const ProcessMaps& maps) {
#if defined(__x86_64__)
    if (elf_version(EV_CURRENT) == EV_NONE) return nullptr;
    auto impl = std::make_unique<Impl>();
    impl->callbacks.find_elf = dwfl_linux_proc_find_elf;
    impl->callbacks.find_debuginfo = find_debug_file;
    impl->debuginfo_path = impl->debug_root.data();
    impl->callbacks.debuginfo_path = &impl->debuginfo_path;
    impl->dwfl = dwfl_begin(&impl->callbacks);
    if (!impl->dwfl) return nullptr;
    dwfl_report_begin(impl->dwfl);
    std::set<std::string> reported;
    size_t modules = 0;
    for (const Mapping& m : maps.mappings()) {
        const std::string name(m.path);
        if (reported.count(name)) continue;
        // Each file costs an ELF parse on the loop draining the ring buffer: a process mapping
        // thousands of distinct files gets its first ones unwound through, not all.
        if (reported.size() >= kMaxModules) {
            spdlog::debug("unwind: pid {} maps over {} files; the rest are not read", pid,
                          kMaxModules);
            break;
        }
        reported.insert(name);
        // The mapped file itself (a container's, a deleted one), checked as untrusted_file.h says.
        OpenedFile opened = maps.open_file(m, kMaxElfFileBytes);
        if (!opened) {
            if (opened.refusal != Refusal::Missing) spdlog::debug("unwind: {}", opened.reason);
            continue;
        }
        auto bias = load_bias(m, opened.file->fd());
        if (!bias) continue;
        // libdwfl takes the descriptor over when it reports the module, and only then.
        const int fd = opened.file->release();
        if (Dwfl_Module* mod =
                dwfl_report_elf(impl->dwfl, name.c_str(), name.c_str(), fd, *bias, true)) {
            use_debug_root(mod, &impl->debug_root);
            ++modules;
        } else {
            ::close(fd);
            spdlog::debug("unwind: {}: {}", display_safe(name), dwfl_errmsg(-1));
        }
    }
    dwfl_report_end(impl->dwfl, nullptr, nullptr);
    if (modules == 0) return nullptr;
    if (!dwfl_attach_state(impl->dwfl, nullptr, pid, &kThreadCallbacks, impl.get())) {
        spdlog::debug("unwind: pid {}: {}", pid, dwfl_errmsg(-1));
        return nullptr;
    }
    return std::unique_ptr<ProcessUnwinder>(new ProcessUnwinder(std::move(impl)));
#else
    (void)pid;
    (void)maps;
    return nullptr;  // the kernel side sends x86-64 registers only
#endif
}

std::vector<uint64_t> ProcessUnwinder::unwind(const StackSample& sample, size_t max_frames,
                                              UnwindStats& stats, std::vector<StackRead>* reads) {
    Impl& d = *impl_;
    const std::tuple<uint64_t, uint64_t, uint64_t> key{sample.ip, sample.sp, sample.bp};
    if (auto it = d.memo.find(key); it != d.memo.end()) {
        for (const Memo& m : it->second) {
            if (matches(m, sample) && m.frames.size() <= max_frames) {
                ++stats.memo_hits;
                if (reads) *reads = m.depends_on;
                return m.frames;
            }
        }
    }
    ++stats.unwinds;
    d.max_frames = max_frames;
    d.run(sample);
    if (d.frames.empty()) {
        ++stats.failures;
        return {};
    }
    std::vector<StackRead> depends_on = d.dependencies(sample);
    if (reads) *reads = depends_on;
    d.remember(key, std::move(depends_on));
    return d.frames;
}

std::vector<uint64_t> DwarfUnwinder::unwind(ProcessKey process, const ProcessMaps& maps,
                                            const StackSample& sample, size_t max_frames,
                                            std::vector<StackRead>* reads) {
    auto it = unwinders_.find(process);
    if (it == unwinders_.end()) {
        if (unwinders_.size() >= max_processes_ && !recent_.empty()) {
            unwinders_.erase(recent_.back());
            recent_.pop_back();
        }
        recent_.push_front(process);
        auto unwinder = ProcessUnwinder::create(static_cast<pid_t>(process.first), maps);
        it =
            unwinders_.emplace(process, std::make_pair(std::move(unwinder), recent_.begin())).first;
    } else {
        recent_.splice(recent_.begin(), recent_, it->second.second);
    }
    if (!it->second.first) {
        ++stats_.failures;
        return {};
    }
    return it->second.first->unwind(sample, max_frames, stats_, reads);
}

}  // namespace cwtrace
