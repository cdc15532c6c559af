// The kernel side, owned: open -> configure -> load -> attach -> drain. Destroying the Tracer
// detaches everything; nothing is pinned, so even SIGKILL leaves nothing in the kernel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cwtrace/abi.h"
#include "kernel/counters.h"
#include "kernel/opener_capacity.h"
#include "kernel/opener_table.h"
#include "kernel/program_plan.h"
#include "kernel/quick_rings.h"
#include "kernel/stack_recycler.h"
#include "util/cidr.h"
#include "util/result.h"

struct bpf_link;
struct cwtrace_bpf;
struct ring_buffer;

namespace cwtrace {

struct TracerConfig {
    std::vector<uint32_t> pids;  // opener filter; empty: all
    // --port (either end), --lport, --rport, --remote: at most CW_MAX_FLOW_FILTER each; empty: all.
    std::vector<uint16_t> ports, local_ports, remote_ports;
    std::vector<Cidr> remotes;
    std::string btf_path;                         // empty: the running kernel's
    std::string tracefs = "/sys/kernel/tracing";  // where the tracepoints' ids are read
    // Map sizes; 0 keeps the BPF object's defaults, but for the opener map's, sized from what the
    // host can hold (opener_capacity.h). Small values are how tests fill maps.
    uint32_t origin_entries = 0;
    uint32_t stack_entries = 0;
    uint32_t ringbuf_bytes = 0;
    uint32_t copies_ringbuf_bytes = 0;  // dwarf mode's stack copies
    uint32_t quick_ring_slots = 0;      // per CPU (quick_rings.h); 0: sized from the CPUs
    // Closing stacks are captured for closes at least this late (--min-age).
    uint64_t closer_min_age_ns = 0;
    uint32_t user_stack_mode = CW_USER_STACKS_FP;             // enum cw_user_stack_mode
    uint32_t user_stack_bytes = CW_DEFAULT_USER_STACK_BYTES;  // dwarf mode
    // Load only the programs reading kernel fields through helper calls (CWTRACE_PROBED_READS),
    // not first the ones reading them by plain loads.
    bool probed_reads = false;
    // Load the programs for kernels without bpf_loop even where it exists (CWTRACE_NO_BPF_LOOP).
    bool no_bpf_loop = false;
};

class Tracer {
  public:
    using RecordHandler = std::function<void(std::span<const std::byte>)>;

    static Result<std::unique_ptr<Tracer>> start(const TracerConfig& config, RecordHandler handler);
    ~Tracer();
    Tracer(const Tracer&) = delete;
    Tracer& operator=(const Tracer&) = delete;

    // Waits up to `timeout_ms` (1 ms while a young stack copy is held back) for the kernel's
    // early wake-up, then hands every pending record to the handler. Returns the number of
    // records, or -errno.
    int drain(int timeout_ms);
    // Ends tracing: detaches the programs, hands on every record they sent, and unmaps the ring
    // buffers (mapped twice each, their pages count twice in the RSS). The maps stay: counters,
    // stacks and the rest can be read for the final report. drain() returns 0 from then on.
    void finish();

    KernelCounters counters() const;
    // How many openers the kernel keeps (the opener table's ways: the size asked for in whole
    // buckets; or the `origins` map's size), about which CW_CNT_ORIGIN_MAP_FULL counts losses.
    uint32_t opener_entries() const;

    // The programs loaded, and what was left out for want of a kernel feature.
    const ProgramPlan& plan() const { return plan_; }

    // The stack map and the maps naming its ids, for kernel/stack_recycler.
    StackMaps stack_maps() const;

    // Instruction pointers of a captured stack, innermost first; empty if unknown.
    std::vector<uint64_t> stack(int32_t stack_id) const;

    // Tells the kernel side where CPython process `pid` keeps its frames. False if the map is full.
    bool set_python_process(uint32_t pid, const cw_python_proc& entry);
    // Stops watching a Python process (it exited: its entry would hold a slot of the map).
    void forget_python_process(uint32_t pid);
    // Dwarf mode: tells the kernel side that openings matching `memo` unwind to its stack (see
    // struct cw_unwind_memo). The least recently matched memo makes room when the map is full.
    void set_unwind_memo(const cw_unwind_memo_key& key, const cw_unwind_memo& memo);

    // Tells the kernel side where Go process `pid` keeps its goroutines' creators. False if the
    // map is full.
    bool set_go_process(uint32_t pid, const cw_go_proc& entry);
    void forget_go_process(uint32_t pid);
    // A captured goroutine creator (see cw_origin.go_creator_id), or nullopt.
    std::optional<cw_go_creator> go_creator(uint64_t creator_id) const;
    // A captured Python stack (see cw_origin.py_stack_id), or nullopt.
    std::optional<cw_py_stack> python_stack(uint64_t stack_id) const;

    // Calls `visit` with every opener the kernel keeps (by struct sock address), read from the
    // opener table or map, whose entries are not read all at one instant: a socket closed
    // meanwhile may be visited or not (its records come after). Returns false if the map could
    // not be read; stops early (true) when `stop` says so, asked between batches.
    // `ahead`, when given, is told keys a little before they are visited (OpenerTable::Ahead; not
    // called when the map is read in batches).
    using OpenerVisit = std::function<void(uint64_t sk, const cw_origin_entry& entry)>;
    bool for_each_opener(const OpenerVisit& visit, const std::function<bool()>& stop = {},
                         const OpenerTable::Ahead& ahead = {}) const;
    // The same, of the sockets in CLOSE_WAIT (their entry into CLOSE_WAIT sent no record: see
    // cw_event_enter).
    bool for_each_close_wait(const OpenerVisit& visit, const std::function<bool()>& stop = {},
                             const OpenerTable::Ahead& ahead = {}) const;

  private:
    Tracer() = default;
    // start(), with the programs of `plan` and the opener map as large as the kernel grants of
    // `opener_entries` (planned; tried at halves while the kernel refuses its memory, unless set).
    static Result<std::unique_ptr<Tracer>> start_fitting(const TracerConfig& config,
                                                         const RecordHandler& handler,
                                                         const ProgramPlan& plan,
                                                         const OpenerPlan& opener);
    // start(), with the programs of `plan` and an opener map of `opener_entries`.
    static Result<std::unique_ptr<Tracer>> start(const TracerConfig& config,
                                                 const RecordHandler& handler,
                                                 const ProgramPlan& plan, uint32_t opener_entries);
    static int on_event(void* self, void* data, size_t size);
    static int on_stack_copy(void* self, void* data, size_t size);
    // Hands on the stack copies sent up to `ts_ns` (kernel CLOCK_MONOTONIC), in order.
    void deliver_copies_until(uint64_t ts_ns);
    // Reads the quick leaves sent up to `until_ns` from their rings into quick_pending_.
    void take_quick_leaves(uint64_t until_ns);
    // Hands on the pending quick leaves sent up to `ts_ns`, each after the copies sent before it.
    void deliver_quick_until(uint64_t ts_ns);

    // Each program on its tracepoint; a missing optional tracepoint only warns.
    Result<void> attach(const std::string& tracefs);
    void detach();
    // Maps the quick-leave rings (after load).
    Result<void> map_quick_rings();
    // Checks that the opener table maps (after load), when the programs keep openers there.
    Result<void> map_opener_table();
    // Calls `each` with the opener table a window at a time, mapped read-only while it runs
    // (mapped whole, the table's pages, already the kernel's memory, would count in cwtrace's
    // RSS: 150 MB at a million entries), until it returns false. False if a window would not map.
    bool read_opener_table(const std::function<bool(const OpenerTable&)>& each) const;
    // Unmaps the rings and closes their epoll set (at finish(), or at destruction).
    void free_rings();

    cwtrace_bpf* skel_ = nullptr;
    std::vector<bpf_link*> links_;
    // Events and dwarf-mode stack copies come through two ring buffers, handed on merged in the
    // order they were sent: a copy may not overtake the close of an earlier socket at the same
    // address (the kernel reuses it), nor fall behind the events of its own socket.
    ring_buffer* events_ = nullptr;
    ring_buffer* copies_ = nullptr;
    int epoll_fd_ = -1;                 // both rings' wake-ups
    uint64_t copies_until_ns_ = 0;      // what deliver_copies_until() may hand on now
    std::vector<std::byte> held_copy_;  // read past that bound: handed on first, later
    RecordHandler handler_;
    // Quick leaves (quick_rings.h): the mapped array and its reader.
    void* quick_area_ = nullptr;
    size_t quick_area_bytes_ = 0;
    std::optional<QuickRings> quick_;
    std::vector<cw_event_leave_quick> quick_pending_;  // read, in send order, not yet handed on
    bool quick_busy_ = false;      // a ring was a quarter full at the last drain's read
    uint32_t opener_buckets_ = 0;  // the opener table's (opener_table.h); 0: none
    ProgramPlan plan_;
};

}  // namespace cwtrace
