"""Shared pieces of scripts/bench: the session that owns every process and sysctl the benchmark
touches, the tracers it compares (cwtrace, bpftrace scripts), the churn runner, kernel BPF run
statistics and table printing. Python 3.11 standard library only (Debian's /usr/bin/python3)."""

import json
import os
import re
import signal
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """A failure the benchmark reports in one line and exits on (after cleaning up)."""


# ---- session: everything started or changed is undone on the way out ------------------------


class Session:
    """Owns the child processes and sysctls of one benchmark run. close() kills what is still
    running and restores every sysctl, whatever way the run ends (error, Ctrl-C, SIGTERM)."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self._procs: list[subprocess.Popen] = []
        self._sysctls: dict[str, str] = {}  # name -> value before the benchmark

    def spawn(self, argv, **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen([str(a) for a in argv], **kwargs)
        self._procs.append(proc)
        return proc

    def forget(self, proc: subprocess.Popen):
        if proc in self._procs:
            self._procs.remove(proc)

    def set_sysctl(self, name: str, value):
        if name not in self._sysctls:
            self._sysctls[name] = read_sysctl(name)
        write_sysctl(name, value)

    def restore_sysctl(self, name: str):
        if name in self._sysctls:
            write_sysctl(name, self._sysctls.pop(name))

    def close(self):
        for proc in reversed(self._procs):
            stop_process(proc)
        self._procs.clear()
        for name in list(self._sysctls):
            self.restore_sysctl(name)


def install_signal_handlers():
    """SIGINT, SIGTERM and SIGHUP end the run through the cleanup in main(). SIGINT is set
    explicitly: a shell starts background jobs with it ignored, and Python keeps that."""

    def interrupt(signum, _frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)


def stop_process(proc: subprocess.Popen, grace: float = 5.0):
    """SIGINT first (tracers print their report and detach), SIGKILL if it does not go."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGKILL, 5.0)):
        try:
            proc.send_signal(sig)
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return


def read_sysctl(name: str) -> str:
    return Path("/proc/sys", name.replace(".", "/")).read_text().strip()


def write_sysctl(name: str, value):
    Path("/proc/sys", name.replace(".", "/")).write_text(f"{value}\n")


# ---- /proc readers ------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # comm may contain spaces and parens
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status_kb(pid: int, key: str) -> int | None:
    """A 'kB' line of /proc/PID/status (VmRSS, VmHWM), or None once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return None


def meminfo_kb(key: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise BenchError(f"no {key} in /proc/meminfo")


def mem_available_kb() -> int:
    return meminfo_kb("MemAvailable")


def bpf_prog_ids(pid: int) -> set[int]:
    """The BPF programs a process holds, from its fds' fdinfo (program and link fds both name
    theirs). bpftool's own pid column needs a bpftool built with skeletons; this does not."""
    ids = set()
    for info in Path(f"/proc/{pid}/fdinfo").iterdir():
        try:
            match = re.search(r"^prog_id:\s*(\d+)", info.read_text(), re.M)
        except OSError:
            continue
        if match:
            ids.add(int(match.group(1)))
    return ids


@dataclass
class ProgStats:
    name: str
    run_time_ns: int = 0
    run_cnt: int = 0
    recursion_misses: int = 0


def bpf_prog_stats(ids: set[int]) -> dict[int, ProgStats]:
    """Kernel run statistics of the given programs (zero unless kernel.bpf_stats_enabled=1)."""
    out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True)
    if out.returncode != 0:
        raise BenchError(f"bpftool prog show failed: {out.stderr.strip()}")
    return {
        p["id"]: ProgStats(
            p.get("name", "?"),
            p.get("run_time_ns", 0),
            p.get("run_cnt", 0),
            p.get("recursion_misses", 0),
        )
        for p in json.loads(out.stdout)
        if p["id"] in ids
    }


# Program types that run on tracepoints and probes: another tool's (another cwtrace's) on the
# churn's path costs every connection, untraced ones too, and the figures mean less.
TRACING_TYPES = {"tracepoint", "raw_tracepoint", "raw_tracepoint_writable", "tracing", "kprobe"}


def tracing_programs() -> list[str]:
    out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True)
    if out.returncode != 0:
        raise BenchError(f"bpftool prog show failed: {out.stderr.strip()}")
    return sorted(p.get("name", "?") for p in json.loads(out.stdout) if p.get("type") in TRACING_TYPES)


def other_tracing_programs() -> list[str]:
    """Names of the tracing programs loaded now; called while the bench has none of its own.
    The last tracer's programs outlive its exit a little (freed after an RCU grace period)."""
    deadline = time.monotonic() + 2.0
    while (names := tracing_programs()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return names


# ---- the load generator -------------------------------------------------------------------------


@dataclass
class ChurnResult:
    connections: int
    seconds: float
    rate: float
    cpu_seconds: float  # the churn process's user + system time
    errors: int
    last_error: str = ""
    machine_busy_seconds: float = 0.0  # all CPUs' non-idle time during the churn

    @property
    def others_cpus(self) -> float:
        """CPUs' worth of time not used by the churn: tracers, and whatever else runs."""
        return max(0.0, self.machine_busy_seconds - self.cpu_seconds) / self.seconds


def parse_churn(line: str) -> ChurnResult:
    m = re.match(
        r"connections (\d+) seconds ([\d.]+) rate (\d+) cpu ([\d.]+) errors (\d+)"
        r"(?: last_error (.*))?",
        line,
    )
    if not m:
        raise BenchError(f"unexpected churn output: {line!r}")
    return ChurnResult(int(m[1]), float(m[2]), float(m[3]), float(m[4]), int(m[5]), m[6] or "")


def machine_busy_seconds() -> float:
    """Non-idle CPU time of the whole machine since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    steal = fields[7] if len(fields) > 7 else 0
    return (sum(fields[:8]) - idle - steal) / CLK_TCK


def run_churn(session: Session, churn: Path, seconds: float, threads: int = 2) -> ChurnResult:
    busy_before = machine_busy_seconds()
    proc = session.spawn(
        [churn, "run", "--seconds", seconds, "--threads", threads],
        stdout=subprocess.PIPE,
        text=True,
    )
    out, _ = proc.communicate(timeout=seconds + 60)
    session.forget(proc)
    if proc.returncode != 0:
        raise BenchError(f"churn exited {proc.returncode}")
    result = parse_churn(out.strip())
    result.machine_busy_seconds = machine_busy_seconds() - busy_before
    return result


# ---- tracers ------------------------------------------------------------------------------------


@dataclass
class TraceResult:
    """What one traced measurement learned about its tracer."""

    cpu_seconds: float = 0.0  # during the measurement only (attach to stop)
    total_cpu_seconds: float = 0.0  # the tracer's whole life: start-up and final report too
    events: int = 0
    lost_events: int = 0
    lost: dict = field(default_factory=dict)  # breakdown by cause, when the tracer gives one
    progs: dict[int, ProgStats] = field(default_factory=dict)


class Tracer:
    """A tracer process: start, wait until its probes are attached, measure, stop."""

    attach_timeout = 60.0

    def __init__(self, session: Session, label: str):
        self.session = session
        self.label = label
        self.proc: subprocess.Popen | None = None
        self._cpu_at_attach = 0.0
        self.exited_at = 0.0

    def start(self):
        raise NotImplementedError

    def attached(self) -> bool:
        raise NotImplementedError

    def wait_attached(self):
        deadline = time.monotonic() + self.attach_timeout
        while not self.attached():
            if self.proc.poll() is not None:
                raise BenchError(f"{self.label} exited {self.proc.returncode} before attaching")
            if time.monotonic() > deadline:
                raise BenchError(f"{self.label} did not attach within {self.attach_timeout:.0f}s")
            time.sleep(0.02)
        self._cpu_at_attach = cpu_seconds(self.proc.pid)

    def sample(self) -> TraceResult:
        """Read while the programs are still loaded: CPU so far and the kernel's run stats."""
        return TraceResult(
            cpu_seconds=cpu_seconds(self.proc.pid) - self._cpu_at_attach,
            progs=bpf_prog_stats(bpf_prog_ids(self.proc.pid)),
        )

    def stop(self, timeout: float = 300.0) -> tuple[int, object]:
        """SIGINT and wait; returns (exit status, resource usage) from wait4."""
        self.proc.send_signal(signal.SIGINT)
        return self.wait_exit(timeout)

    def wait_exit(self, timeout: float) -> tuple[int, object]:
        """Reaps the tracer with wait4, whose ru_maxrss is the peak RSS (VmHWM) at exit."""
        deadline = time.monotonic() + timeout
        while True:
            pid, status, rusage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                self.exited_at = time.monotonic()
                self.proc.returncode = os.waitstatus_to_exitcode(status)
                self.session.forget(self.proc)
                return self.proc.returncode, rusage
            if time.monotonic() > deadline:
                raise BenchError(f"{self.label} did not exit within {timeout:.0f}s")
            time.sleep(0.005)


class Cwtrace(Tracer):
    """cwtrace with its report written to a file; "tracing TCP" on stderr means attached."""

    def __init__(self, session: Session, binary: Path, args: list, label="cwtrace", env=None):
        super().__init__(session, label)
        self.argv = [binary, *args]
        self.env = dict(os.environ, **env) if env else None  # e.g. CWTRACE_PROBED_READS
        self.report = session.workdir / f"cwtrace-{time.monotonic_ns()}.out"
        self._attached = threading.Event()
        self.stderr_lines: list[str] = []
        self.stderr_times: list[float] = []  # time.monotonic() at each line's arrival
        self.started_at = 0.0
        self.attached_at = 0.0

    def start(self):
        self.started_at = time.monotonic()
        with open(self.report, "w") as report:
            self.proc = self.session.spawn(
                self.argv, stdout=report, stderr=subprocess.PIPE, text=True, env=self.env
            )
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stderr(self):
        for line in self.proc.stderr:
            self.stderr_times.append(time.monotonic())
            self.stderr_lines.append(line.rstrip())
            if "tracing TCP" in line and not self._attached.is_set():
                self.attached_at = time.monotonic()
                self._attached.set()

    def attached(self) -> bool:
        return self._attached.is_set()

    def check_status(self, status: int):
        if status != 0:
            raise BenchError(f"{self.label} exited {status}: {' | '.join(self.stderr_lines[-3:])}")

    def last_document(self) -> dict | None:
        """The last complete JSON report written so far (JSON Lines with --interval)."""
        lines = self.report.read_text().splitlines(keepends=True)
        for line in reversed(lines):
            if line.endswith("\n") and line.strip():
                return json.loads(line)
        return None

    def stop_and_read(self, sample: TraceResult) -> TraceResult:
        status, rusage = self.stop()
        self.check_status(status)
        sample.total_cpu_seconds = rusage.ru_utime + rusage.ru_stime
        stats = self.last_document()["stats"]
        sample.events = stats["events"]
        sample.lost_events = stats["lost_events"]
        sample.lost = stats.get("lost", {})
        self.report.unlink()
        return sample


class Floor(Tracer):
    """tests/bench/floor: an empty program on the raw tracepoint cwtrace uses. It prints
    "attached" once it is."""

    def __init__(self, session: Session, binary: Path):
        super().__init__(session, "empty program")
        self.binary = binary
        self._attached = threading.Event()

    def start(self):
        self.proc = self.session.spawn(
            [self.binary], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith("attached"):
                self._attached.set()

    def attached(self) -> bool:
        return self._attached.is_set()

    def stop_and_read(self, sample: TraceResult) -> TraceResult:
        _, rusage = self.stop()
        sample.total_cpu_seconds = rusage.ru_utime + rusage.ru_stime
        return sample


class Bpftrace(Tracer):
    """bpftrace running a script, its output in a file. It prints "Attaching N probes" just
    before it attaches: attached means that line plus a grace period."""

    attach_grace = 0.5

    def __init__(self, session: Session, script: Path, label: str):
        super().__init__(session, label)
        self.script = script
        self.output = session.workdir / f"{script.stem}-{time.monotonic_ns()}.out"
        self._announced_at: float | None = None

    def start(self):
        # -o keeps the per-event output out of a pipe someone would have to drain.
        self.proc = self.session.spawn(
            ["bpftrace", "-o", self.output, self.script],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # a harmless RLIMIT_MEMLOCK warning on new kernels
        )

    def attached(self) -> bool:
        if self._announced_at is None:
            try:
                with open(self.output) as f:
                    if "Attaching" in f.readline():
                        self._announced_at = time.monotonic()
            except FileNotFoundError:
                pass
        return (
            self._announced_at is not None
            and time.monotonic() - self._announced_at >= self.attach_grace
        )

    def stop_and_read(self, sample: TraceResult) -> TraceResult:
        _, rusage = self.stop()
        sample.total_cpu_seconds = rusage.ru_utime + rusage.ru_stime
        return sample

    def output_text(self) -> str:
        return self.output.read_text()


# ---- numbers and tables -------------------------------------------------------------------------


def median(values):
    return statistics.median(values) if values else float("nan")


def fmt_int(n) -> str:
    return f"{n:,.0f}" if n == n else "-"


def fmt_pct(x) -> str:
    return f"{x * 100:.1f}%" if x == x else "-"


def print_table(headers: list[str], rows: list[list], title: str = ""):
    """Left-aligns the first column, right-aligns the others."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(row):
        first = row[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        return "  ".join([first, *rest]).rstrip()

    if title:
        print(f"\n{title}")
    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print(line(row))
