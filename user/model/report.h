// The report model: pure data, built from the socket table, consumed by the renderers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cwtrace {

// An address and port, the address kept as its bytes (an IPv4 one in the first 4) and made
// text when rendered: a million entries hold two each, 20 bytes instead of 40.
struct Endpoint {
    Endpoint() = default;
    Endpoint(bool is_inet6, const uint8_t (&address)[16], uint16_t port_number);
    // From text: "127.0.0.1", "::1". Throws std::invalid_argument when it is neither.
    Endpoint(std::string_view text, uint16_t port_number);
    // Likewise; nullopt when the text is no address.
    static std::optional<Endpoint> parse(std::string_view text, uint16_t port_number);

    std::string addr() const;  // "127.0.0.1", "::1"

    uint8_t bytes[16] = {};
    bool inet6 = false;
    uint16_t port = 0;
};

struct Frame {
    Frame() = default;
    Frame(std::string function_name, std::string module_path = {})
        : function(std::move(function_name)), module(std::move(module_path)) {}

    std::string function;  // "[unknown]" when no symbol covers the address
    std::string module;    // path of the mapped file; empty for kernel frames
    // Source position where known: Python frames (co_filename and the line), native frames
    // whose binary has debug info (DWARF line table, --user-stacks dwarf). Empty / nullopt
    // otherwise.
    std::string file;
    std::optional<int> line;
    // Where a native user frame's code is, so that it can be named later by what cwtrace lacked
    // (pprof -symbolize, a debuginfod-backed server): the address looked up (a caller's is one
    // byte into its call instruction, as pprof allows), its offset in the mapped file, and that
    // file's GNU build id in hex ("" when it has none). Kernel frames keep none: their addresses
    // would give away the kernel's layout to whoever reads a report.
    std::optional<uint64_t> address;
    std::optional<uint64_t> file_offset;
    std::string build_id;
    // Go: 0 for a frame of the goroutine that opened the socket; 1 for the goroutine that
    // created it (where it ran the go statement, and with GODEBUG=tracebackancestors its stack
    // then), 2 for that one's creator. They follow the opening goroutine's frames, as callers.
    uint8_t creator = 0;
};

enum class OriginKind { Unknown, Connect, Accept };

// A thread the kernel side recorded, an opener or a closer: who it was and its stacks.
struct Thread {
    std::optional<uint32_t> pid, tid;
    std::optional<std::string> comm;
    std::vector<Frame> user_stack;    // innermost first
    std::vector<Frame> kernel_stack;  // innermost first
};

// Who opened a socket, and how.
struct Origin : Thread {
    OriginKind kind = OriginKind::Unknown;
    // Index into user_stack of the innermost frame that is the user's own code, not a library's
    // or the runtime's (report/own_frame); nullopt when none is.
    std::optional<uint32_t> own_frame;
    const Frame* own() const { return own_frame ? &user_stack[*own_frame] : nullptr; }
};

// A socket's opening path, shared and read-only: most sockets of a pile found at start have none
// (an empty Origin costs a null pointer), and sockets can share one.
class SharedOrigin {
  public:
    SharedOrigin() = default;
    SharedOrigin(Origin origin)  // NOLINT: implicit, so that `entry.origin = origin` reads well
        : origin_(std::make_shared<const Origin>(std::move(origin))) {}
    SharedOrigin(std::shared_ptr<const Origin> origin) : origin_(std::move(origin)) {}

    const Origin& get() const { return origin_ ? *origin_ : empty(); }
    const Origin& operator*() const { return get(); }
    const Origin* operator->() const { return &get(); }
    operator const Origin&() const { return get(); }  // NOLINT

  private:
    static const Origin& empty() {
        static const Origin none;
        return none;
    }
    std::shared_ptr<const Origin> origin_;
};

// Why a socket sits in CLOSE_WAIT, from its receive queue (the FIN takes one sequence number,
// consumed when the program reads EOF).
enum class Diagnosis : uint8_t {
    Unknown,           // not visible to sock_diag (another network namespace)
    UnreadData,        // Recv-Q > 1: data never read, typical of a pooled idle connection
    EofNotRead,        // Recv-Q = 1: every byte read but not the EOF
    EofReadNotClosed,  // Recv-Q = 0: EOF read, close() never called (leaked object, no `with`)
};

// What /proc tells about the owner beyond pid and comm.
struct OwnerDetails {
    std::string cmdline;
    std::optional<uint32_t> pid_in_namespace;  // when the owner is in a nested pid namespace
    std::string cgroup;
    std::optional<std::string> container_id;
    // Kubernetes names from the node's own files (owners/kubernetes): nullopt outside a pod, or
    // when kubelet's log tree does not name it.
    std::optional<std::string> pod, namespace_name, container, pod_uid;
};

struct SocketEntry {
    // The small fields first, packed together: a million entries are a report.
    std::optional<uint32_t> pid;  // owner now (tgid); nullopt if unknown
    bool inet6 = false;
    bool before_start = false;  // already in CLOSE_WAIT when tracing began
    // Whether a listening socket on its local address and port shows it was accepted (the
    // server's end: true) or not (a client's: false); nullopt when sock_diag did not see it.
    // What tells the two sides apart when the opening path is unknown.
    std::optional<bool> accepted;
    Diagnosis diagnosis = Diagnosis::Unknown;
    std::optional<std::string> comm;  // owner's comm now
    // Shared by the sockets of one process: a million sockets of a few processes hold a few.
    std::shared_ptr<const OwnerDetails> owner;
    Endpoint local, remote;
    double close_wait_seconds = 0;  // never more than the truth
    // For sockets found at start: seconds since the last segment received (the FIN, while the
    // socket is idle), from tcp_info. An estimate; --min-age judges such sockets by it.
    std::optional<double> age_estimate_seconds;
    std::optional<uint32_t> recv_q, send_q;  // raw queue sizes from sock_diag
    SharedOrigin origin;
};

// The best age known of a socket: the estimate for one found at start, else the traced age; 0
// when that is negative or not finite.
double best_age_seconds(const SocketEntry& socket);
// Orders sockets oldest first by best_age_seconds(), equal ages in their order. A million of them
// cost a pass when they are in that order already (a report's sockets are, and so every group of
// them), else each age is read once, not at every comparison.
void sort_oldest_first(std::vector<const SocketEntry*>& sockets);

struct Stats {
    uint64_t events = 0;       // kernel events received
    uint64_t lost_events = 0;  // sum of every loss below
    // The losses, by cause, so a reader can tell what is missing.
    uint64_t ringbuf_full = 0;
    uint64_t origin_map_full = 0;
    uint64_t stacks_lost = 0;
    uint64_t accept_unresolved = 0;
    uint64_t recursion_misses = 0;
    uint64_t decode_errors = 0;
    uint64_t python_stacks_lost = 0;  // a CPython process's Python stack not captured
    // Not losses: sockets a CPython process opened from a thread without Python frames.
    uint64_t python_native_threads = 0;
    // Not events lost but names: files (and memory) another process named, refused, by cause
    // ("slow", "not_regular", ...: util/untrusted_file.h), every cause listed, and the kernel
    // stack map's recycling: stacks deleted with nothing naming them, and stacks named after
    // their deletion (those are in stacks_lost too).
    std::vector<std::pair<std::string, uint64_t>> files_refused;
    uint64_t stacks_recycled = 0;
    uint64_t stale_stacks = 0;
    // The kernel's opener map's size (entries), sized at start from what the host can hold: a
    // loss of openers (origin_map_full) happened at this cap. 0: not known (an older report).
    uint64_t origin_map_entries = 0;
    // Of stacks_lost: dwarf mode's stack copies the copy ring buffer had no room for (the
    // consumer behind a burst). The rest of stacks_lost is the stack map's and stale stacks.
    uint64_t stack_copies_lost = 0;
};

// Every loss cause above by the key the JSON and the metrics name it with, in the order they are
// listed: one table, so that a cause added to Stats reaches each output.
inline constexpr std::pair<const char*, uint64_t Stats::*> kLossCauses[] = {
    {"ringbuf_full", &Stats::ringbuf_full},
    {"origin_map_full", &Stats::origin_map_full},
    {"stacks_lost", &Stats::stacks_lost},
    {"accept_unresolved", &Stats::accept_unresolved},
    {"recursion_misses", &Stats::recursion_misses},
    {"decode_errors", &Stats::decode_errors},
    {"python_stacks_lost", &Stats::python_stacks_lost},
};

// How a socket left CLOSE_WAIT (abi.h cw_close_kind).
enum class CloseKind {
    Unknown,
    Close,   // close()/shutdown() by a process: FIN sent
    Reset,   // the connection was reset: by the peer, or aborted by the closing process
    Exit,    // closed by its process exiting
    Kernel,  // no process context: a timeout or a kernel thread
};

// Who took a socket out of CLOSE_WAIT. Process and stacks are known in process context only;
// stacks only for closes at least min-age late.
struct Closer : Thread {
    CloseKind kind = CloseKind::Unknown;
};

// One socket that stayed in CLOSE_WAIT at least min-age and was then closed during the run.
struct LateClose {
    std::optional<uint32_t> pid;      // owner: the closing process, else the opener
    std::optional<std::string> comm;  // its comm
    bool inet6 = false;
    Endpoint local, remote;
    double close_wait_seconds = 0;  // time spent in CLOSE_WAIT
    bool before_start = false;      // entered CLOSE_WAIT before tracing began: a lower bound
    std::optional<uint32_t> closer_pid, closer_tid;
    std::optional<std::string> closer_comm;
};

// Late closes sharing an opening path and a closing path. `opening`/`closing` carry the path
// and the process of the group's first socket.
struct LateCloseGroup {
    Origin opening;
    Closer closing;
    uint64_t count = 0;
    double total_seconds = 0;  // time in CLOSE_WAIT, summed
    double max_seconds = 0;
    bool other = false;              // paths past the bound on groups, folded together
    std::vector<LateClose> sockets;  // a sample: the most recent few, most recent first
};

struct DurationBucket {
    double lower_seconds = 0;  // bucket holds lower <= d < upper
    double upper_seconds = 0;  // infinity for the last, open-ended bucket
    uint64_t count = 0;
};

// Time in CLOSE_WAIT of the sockets of one opening path that left it during the run.
struct CloseWaitDurations {
    Origin opening;  // the path; pid and comm of its first socket
    uint64_t count = 0;
    double total_seconds = 0;
    bool other = false;                   // paths past the bound on paths, folded together
    std::vector<DurationBucket> buckets;  // log2 buckets, lowest to highest non-empty one
};

// Linux's default ip_local_port_range: the ports connect() picks from.
inline constexpr std::pair<uint16_t, uint16_t> kDefaultLocalPortRange = {32768, 60999};

struct Report {
    double min_age_seconds = 0;
    double tracing_seconds = 0;
    std::vector<SocketEntry> sockets;  // oldest first
    Stats stats;
    // Sockets that left CLOSE_WAIT during the run: the late ones, largest group
    // first, and a histogram of time in CLOSE_WAIT per opening path.
    std::vector<LateCloseGroup> late_closes;
    std::vector<CloseWaitDurations> close_wait_durations;
    // The ephemeral port range (ip_local_port_range) of the host the report was taken on, first
    // and last: what tells a server's end from a client's when sock_diag could not. Linux's
    // default until the builder sets the host's own.
    std::pair<uint16_t, uint16_t> local_port_range = kDefaultLocalPortRange;
};

// What a flame graph's widths measure (--weight).
enum class FlameWeight {
    Sockets,  // sockets stuck in CLOSE_WAIT through the path (the default)
    Seconds,  // seconds they have spent there: whole seconds, at least 1 per socket so every
              // stuck socket stays visible; sockets found at start count their estimated age
};

const char* to_string(FlameWeight weight);  // "sockets", "seconds"
std::optional<FlameWeight> parse_flame_weight(std::string_view text);

// What a report is titled with beyond its data: where it was taken.
struct ReportContext {
    std::string host;                           // empty: not known
    FlameWeight weight = FlameWeight::Sockets;  // what the flame-style formats' widths measure
    // How a report is drawn for where it goes (the CLI's --width, --color, --full-stacks,
    // --mark-own): the text report's width in columns and colour (a terminal's), every library
    // frame shown, the folded format's "[own]" mark.
    size_t text_width = 80;
    bool color = false;
    bool full_stacks = false;
    bool mark_own = false;

    // The machine this process runs on (for reports taken here, now).
    static ReportContext here();
};

// Likewise, of a report's endpoint (of a socket of family `inet6`). Its address is made from
// bytes: nothing in it needs escaping for display.
std::string format_endpoint(bool inet6, const Endpoint& endpoint);

// A process as the reports name it: "crawler[3100]", "?[3100]", "crawler[?]"; "unknown" when
// neither is known. The comm is made terminal-safe (display.h).
std::string format_process(const std::optional<std::string>& comm, std::optional<uint32_t> pid);

// A frame's address or file offset as the reports write it: "0x7f3a2c1d4e5f" (JSON numbers lose
// precision past 2^53); and back, nullopt for anything else ("0x" and 1 to 16 hex digits).
std::string format_address(uint64_t address);
std::optional<uint64_t> parse_address(std::string_view text);

const char* to_string(OriginKind kind);
const char* to_string(Diagnosis diagnosis);  // "unread_data", ... ("unknown")
// One socket's diagnosis in a few words, for a column: "12 B unread", "EOF unread", "never closed".
const char* to_string(CloseKind kind);  // "close", "reset", "exit", "kernel", "unknown"
std::string describe(Diagnosis diagnosis, std::optional<uint32_t> recv_q);
// The same for counting a group's sockets: "never read to the end", "EOF read but never closed".
const char* summarize(Diagnosis diagnosis);
// The language runtime a program runs on, as far as its opening path tells (report/runtime.h):
// what a fix is written in.
enum class Runtime { Unknown, Python, Go, Node, Java };
const char* to_string(Runtime runtime);  // "python", "go", "node", "java", "unknown"

// What usually causes it and how that is fixed, in a line, in the words of the program's
// runtime: "a response body never read to the end nor closed: defer resp.Body.Close()", ...
const char* likely_cause(Diagnosis diagnosis, Runtime runtime = Runtime::Unknown);

}  // namespace cwtrace
