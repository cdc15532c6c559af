"""The scale mode of scripts/bench: N sockets in CLOSE_WAIT spread over holder processes, then
ss and cwtrace timed against them; and the live variant, cwtrace started before the N sockets."""

import json
import os
import re
import resource
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass, field

from bench_lib import (
    BenchError,
    Cwtrace,
    Session,
    fmt_int,
    mem_available_kb,
    meminfo_kb,
    print_table,
    read_sysctl,
)

HOLDER_NET = "127.16.0.0/16"  # churn hold --index I listens on 127.(16 + I/256).(I%256).x
FD_MARGIN = 1000  # fds a holder keeps free for its listeners, stdio and the loader
LISTENERS_PER_HOLDER = 4  # destinations per holder, so no destination needs > ~5,000 ports
# Kernel memory per CLOSE_WAIT socket with its closed peer (struct tcp_sock, file, inode,
# dentry, the peer's short-lived orphan and time-wait entry): ~5-7 KB of slab measured.
KB_PER_SOCKET_ESTIMATE = 10
SS_TANP_TIMEOUT = 120.0
CLOSE_WAIT_REPORT_TOKEN = b'"close_wait_seconds"'  # once per socket in a JSON report
NO_OPENER_TOKEN = b'"origin":{"kind":"unknown"'  # a socket whose opening path is not known
# The opener map's size before it was sized from the host (the BPF object's default): the live
# burst is run with it too, to show the report after a loss of openers.
OLD_OPENER_MAP_ENTRIES = 262144
# cwtrace's --verbose lines the scale rows print: the opener map's size, the reads of the kernel's
# map during the burst, the report's steps and the stack copies lost (dwarf mode: their ring full
# while the drain was held up).
VERBOSE_SHOWN = re.compile(r"opener map:|report:|read from the kernel's map|dropped|stack copies")


@dataclass
class Row:
    what: str
    startup: str = "-"
    time: str = "-"
    peak_rss: str = "-"
    sockets: str = "-"
    events: str = "-"
    lost: str = "-"
    lost_causes: str = ""  # printed under the table: too wide for a column
    openers: str = ""  # live runs: sockets with their opening path, and the opener map's size

    def cells(self):
        return [
            self.what,
            self.startup,
            self.time,
            self.peak_rss,
            self.sockets,
            self.events,
            self.lost,
        ]


@dataclass
class Holders:
    """Processes that each hold up to ~19,000 client sockets in CLOSE_WAIT."""

    session: Session
    churn: str
    counts: list[int]
    first_index: int  # holder I listens on 127.(16 + I/256).(I%256).x: its own addresses
    procs: list = field(default_factory=list)

    def start(self):
        for i, count in enumerate(self.counts):
            argv = [self.churn, "hold", "--count", count, "--index", self.first_index + i]
            argv += ["--listeners", LISTENERS_PER_HOLDER]
            self.procs.append(
                self.session.spawn(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            )

    def wait_ready(self, timeout: float):
        """Returns once every holder printed "ready"; fails if one dies or the time runs out."""
        selector = selectors.DefaultSelector()
        for proc in self.procs:
            selector.register(proc.stdout, selectors.EVENT_READ, proc)
        deadline = time.monotonic() + timeout
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BenchError(f"holders not ready within {timeout:.0f}s")
            for key, _ in selector.select(remaining):
                line = key.fileobj.readline()
                if not line.startswith(b"ready"):
                    raise BenchError(
                        f"a holder failed (exit {key.data.wait()}); see its error above"
                    )
                selector.unregister(key.fileobj)

    def stop(self):
        """Closing a holder's stdin ends it; the kernel closes its sockets."""
        for proc in self.procs:
            proc.stdin.close()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            self.session.forget(proc)
        self.procs.clear()


def holder_counts(n: int) -> list[int]:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    per_holder = min(hard, int(read_sysctl("fs.nr_open"))) - FD_MARGIN
    if per_holder < 1000:
        raise BenchError(f"RLIMIT_NOFILE hard limit {hard} is too low to hold sockets")
    counts = [per_holder] * (n // per_holder)
    if n % per_holder:
        counts.append(n % per_holder)
    return counts


def timed_shell(command: str, timeout: float) -> tuple[float, str | None]:
    """Runs a shell pipeline in its own process group (so a timeout kills all of it)."""
    start = time.monotonic()
    proc = subprocess.Popen(
        ["bash", "-c", command], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except BaseException as err:  # the timeout, or Ctrl-C: leave no ss behind
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if isinstance(err, subprocess.TimeoutExpired):
            return time.monotonic() - start, None
        raise
    return time.monotonic() - start, out.strip()


def count_ours() -> int:
    """Our sockets in CLOSE_WAIT: those connected to the holders' addresses."""
    _, out = timed_shell(f"ss -tanH state close-wait dst {HOLDER_NET} | wc -l", 600)
    return int(out)


def ss_row(command: str, timeout: float) -> Row:
    """Times an ss pipeline; its count is every CLOSE_WAIT socket on the machine."""
    seconds, out = timed_shell(command, timeout)
    if out is None:
        return Row(command, time=f"timeout ({timeout:.0f} s)")
    return Row(command, time=f"{seconds:.2f} s", sockets=fmt_int(int(out) - 1))  # -1: header


def report_counts(path, fmt: str) -> tuple[int | None, dict]:
    """(sockets reported, stats) from a cwtrace report, without loading a huge JSON whole."""
    if fmt == "text":
        # The header (and the lost-events warning after it) may wrap: read up to the first
        # blank line with the line breaks folded.
        head = " ".join(path.read_text(errors="replace").split("\n\n", 1)[0].split())
        stats = {}
        for key, pattern in (("events", r"(\d+) events?,"), ("lost_events", r"(\d+) lost")):
            m = re.search(pattern, head)
            stats[key] = int(m[1]) if m else None
        causes = re.search(r"WARNING: .*? lost \((.*?)\)", head)
        if causes:
            stats["lost"] = dict(re.findall(r"([a-zA-Z ]+): (\d+)", causes[1]))
            stats["lost"] = {k.strip(): int(v) for k, v in stats["lost"].items()}
        m = re.search(r"(\d+) sockets? shown", head)
        return (int(m[1]) if m else None), stats
    sockets, no_opener, tail = 0, 0, b""
    with path.open("rb") as f:
        while chunk := f.read(1 << 24):
            data = tail + chunk
            sockets += data.count(CLOSE_WAIT_REPORT_TOKEN)
            no_opener += data.count(NO_OPENER_TOKEN)
            tail = data[-(len(NO_OPENER_TOKEN) - 1) :]
        f.seek(max(0, path.stat().st_size - (1 << 20)))
        end = f.read().decode(errors="replace")
    at = end.rfind('"stats":')
    stats = json.JSONDecoder().raw_decode(end[at + len('"stats":') :])[0] if at >= 0 else {}
    stats["no_opener"] = no_opener
    return sockets, stats


def lost_causes(stats: dict) -> str:
    return ", ".join(f"{k} {fmt_int(v)}" for k, v in stats.get("lost", {}).items() if v)


def cwtrace_row(
    tracer: Cwtrace, status_rusage, fmt: str, what: str, n: int, report_seconds: float
) -> Row:
    status, rusage = status_rusage
    tracer.check_status(status)
    sockets, stats = report_counts(tracer.report, fmt)
    tracer.report.unlink()
    return Row(
        what,
        startup=f"{tracer.attached_at - tracer.started_at:.2f} s",
        time=f"{report_seconds:.2f} s",
        peak_rss=f"{rusage.ru_maxrss / 1024:.1f} MB",
        sockets=f"{fmt_int(sockets or 0)} of {fmt_int(n)}",
        events=fmt_int(stats.get("events") or 0),
        lost="?" if stats.get("lost_events") is None else fmt_int(stats["lost_events"]),
        lost_causes=lost_causes(stats),
        openers=openers_text(stats, sockets or 0),
    )


def openers_text(stats: dict, sockets: int) -> str:
    """'1,000,000 of 1,000,000 with their opening path (opener map 1,935,832 entries)'."""
    if "no_opener" not in stats or "origin_map_entries" not in stats:
        return ""
    text = (
        f"{fmt_int(sockets - stats['no_opener'])} of {fmt_int(sockets)} with their opening path "
        f"(opener map {fmt_int(stats['origin_map_entries'])} entries"
    )
    full = stats.get("lost", {}).get("origin_map_full", 0)
    return text + (f", full: {fmt_int(full)} openers not recorded)" if full else ")")


def cwtrace_one_shot(session, cwtrace, fmt: str, n: int) -> Row:
    """cwtrace -d 1s against sockets that are already in CLOSE_WAIT: start-up, report, RSS."""
    args = ["--min-age", "0s", "-d", "1s"] + (["-f", "json"] if fmt == "json" else [])
    tracer = Cwtrace(session, cwtrace, args, f"cwtrace -d 1s ({fmt})")
    tracer.start()
    tracer.wait_attached()
    result = tracer.wait_exit(600)
    # -d counts from attach: what is left after the 1 s window is the final report's cost.
    report_seconds = tracer.exited_at - tracer.attached_at - 1.0
    return cwtrace_row(tracer, result, fmt, f"cwtrace --min-age 0s -d 1s, {fmt}", n, report_seconds)


def create(session, churn, counts, first_index, n) -> tuple[Holders, float, int]:
    """Starts the holders; returns them, the creation time and the slab memory they took."""
    before = meminfo_kb("Slab")
    holders = Holders(session, churn, counts, first_index)
    start = time.monotonic()
    holders.start()
    holders.wait_ready(timeout=max(300.0, n / 1000))
    # A sock_diag dump is not a snapshot: entries leaving a hash bucket while it is read (the
    # peers' time-wait entries expire) can hide others from it. Retry before complaining.
    found = count_ours()
    for _ in range(2):
        if found == n:
            break
        found = max(found, count_ours())
    if found != n:
        print(
            f"  warning: {fmt_int(n)} sockets created, ss shows {fmt_int(found)} in CLOSE_WAIT",
            flush=True,
        )
    return holders, time.monotonic() - start, meminfo_kb("Slab") - before


def teardown(holders: Holders):
    holders.stop()
    deadline = time.monotonic() + 120
    while count_ours() > 0 and time.monotonic() < deadline:
        time.sleep(1)


def check_memory(n: int):
    need = n * KB_PER_SOCKET_ESTIMATE
    available = mem_available_kb()
    if need > available * 0.8:
        raise BenchError(
            f"{fmt_int(n)} sockets need ~{need / 2**20:.1f} GB of kernel memory; "
            f"{available / 2**20:.1f} GB available: not feasible here"
        )


def raise_limits(session: Session, n: int):
    """Keeps the kernel from resetting the peers' closing ends, which would take the CLOSE_WAIT
    sockets with them: orphans are reset when there are too many of them or when TCP memory is
    over its hard limit (tcp_mem, in pages; each socket and orphan keeps about one page)."""
    if int(read_sysctl("net.ipv4.tcp_max_orphans")) < n + 65536:
        session.set_sysctl("net.ipv4.tcp_max_orphans", n + 65536)
    low, pressure, high = (int(x) for x in read_sysctl("net.ipv4.tcp_mem").split())
    pages = 2 * n + 262144
    if high < 2 * pages:
        session.set_sysctl("net.ipv4.tcp_mem", f"{low} {max(pressure, pages)} {2 * pages}")
    if int(read_sysctl("fs.file-max")) < 2 * n + 100000:
        session.set_sysctl("fs.file-max", 2 * n + 100000)


def run_scale(session: Session, cwtrace, churn, n: int):
    check_memory(n)
    raise_limits(session, n)
    counts = holder_counts(n)
    if count_ours():
        raise BenchError(
            f"sockets to {HOLDER_NET} already in CLOSE_WAIT: is another bench running?"
        )
    print(
        f"\nScale: {fmt_int(n)} sockets in CLOSE_WAIT over {len(counts)} processes "
        f"(<= {fmt_int(counts[0])} each)",
        flush=True,
    )
    rows = []

    # 1. Sockets that exist before cwtrace starts.
    holders, seconds, mem_kb = create(session, churn, counts, 0, n)
    print(
        f"  created in {seconds:.1f} s ({fmt_int(n / seconds)}/s), "
        f"kernel slab memory +{mem_kb / 2**20:.2f} GB, {mem_kb / n:.1f} KB per socket",
        flush=True,
    )
    rows.append(ss_row("ss -tan state close-wait | wc -l", 600))
    rows.append(ss_row("ss -tanp state close-wait | wc -l", SS_TANP_TIMEOUT))
    print_row(rows[-2])
    print_row(rows[-1])
    for fmt in ("text", "json"):
        rows.append(cwtrace_one_shot(session, cwtrace, fmt, n))
        print_row(rows[-1])
    teardown(holders)

    # 2. Live: cwtrace first, then the sockets; with the opener map sized from the host, then
    #    at its old fixed size (a burst beyond it loses openers: the report after that loss).
    first_index = len(counts)
    for what, env in (
        ("live: cwtrace started first, SIGINT -> report", []),
        (
            f"live, opener map at its old {fmt_int(OLD_OPENER_MAP_ENTRIES)} entries",
            [f"CWTRACE_ORIGIN_MAP_ENTRIES={OLD_OPENER_MAP_ENTRIES}"],
        ),
    ):
        rows.append(live_run(session, cwtrace, churn, counts, first_index, n, what, env))
        print_row(rows[-1])
        first_index += len(counts)  # fresh addresses: no port reuse with the last run's peers
    print_scale_summary(n, len(counts), rows)


def live_run(session, cwtrace, churn, counts, first_index, n, what, env) -> Row:
    """cwtrace started, then the N sockets created while it traces; SIGINT, JSON report."""
    tracer = Cwtrace(session, cwtrace, ["--min-age", "0s", "-f", "json", "-v"], what)
    tracer.argv = ["env", *env, *tracer.argv]  # CWTRACE_* settings, if any
    tracer.start()
    tracer.wait_attached()
    holders, seconds, _ = create(session, churn, counts, first_index, n)
    print(f"  {what}: created in {seconds:.1f} s ({fmt_int(n / seconds)}/s)", flush=True)
    time.sleep(1.0)  # cwtrace drains its ring buffer every 100 ms
    sigint_at = time.monotonic()
    result = tracer.stop(600)
    row = cwtrace_row(tracer, result, "json", what, n, tracer.exited_at - sigint_at)
    # Every line after SIGINT, timed from it: what the report's seconds went to.
    for at, line in zip(tracer.stderr_times, tracer.stderr_lines):
        if at >= sigint_at or VERBOSE_SHOWN.search(line):
            when = f"+{at - sigint_at:6.2f} s" if at >= sigint_at else " " * 9
            print(f"    {when}  {line}", flush=True)
    print(f"    +{tracer.exited_at - sigint_at:6.2f} s  exited", flush=True)
    teardown(holders)
    return row


def print_row(row: Row):
    cells = [c for c in row.cells() if c != "-"] + (
        [f"lost: {row.lost_causes}"] if row.lost_causes else []
    )
    cells += [row.openers] if row.openers else []
    print("  " + " | ".join(cells), flush=True)


def print_scale_summary(n: int, processes: int, rows: list[Row]):
    print("\n" + "=" * 100)
    print(f"SCALE SUMMARY: {fmt_int(n)} sockets in CLOSE_WAIT held by {processes} processes")
    print_table(
        [
            "measurement",
            "start-up",
            "time / report",
            "peak RSS",
            "sockets",
            "events",
            "lost_events",
        ],
        [r.cells() for r in rows],
    )
    for row in rows:
        if row.lost_causes:
            print(f'lost_events of "{row.what}" by cause: {row.lost_causes}')
        if row.openers:
            print(f'"{row.what}": {row.openers}')
    print(
        'start-up: exec to "tracing TCP"; report: after the -d window (or SIGINT) to exit; '
        "peak RSS: VmHWM (wait4 ru_maxrss);\nss counts every CLOSE_WAIT socket on the machine; "
        "cwtrace counts the sockets its report shows"
    )
    print(
        "targets: 100,000: report < 1 s, RSS < 64 MB; 1,000,000: start-up with owners < 5 s, "
        "report < 2 s, RSS < 512 MB"
    )
