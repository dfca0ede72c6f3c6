"""Optional profilers attached to a server for exactly one timed window.

``--profile`` names one of these; the runner calls ``before(server, label)``
just before the window opens (the server is idle then: clients are waiting
on the clock) and ``after(server)`` when it closes, and the returned numbers
join the run's results (divided by the run's operation count).

* ``perf-stat``: ``perf stat`` on the server process, counting syscalls
  (the ``raw_syscalls:sys_enter`` tracepoint), context switches and
  task-clock. Works on both servers: syscalls and switches per operation
  are what the CPU-per-op difference is made of.
* ``perf-record``: ``perf record -g`` of our server only, one file per run
  in ``--profile-dir``, for ``perf report``.
* ``callgrind``: our server runs under ``valgrind --tool=callgrind`` with
  instrumentation off, switched on for the window only: the instruction
  count per operation is exact and repeatable on a noisy machine (the
  server is ~50x slower under valgrind, so compare counts, not times).
* ``tcpdump``: a capture of the server's port on ``lo`` per run (both
  servers; needs tcpdump and root); for ``lock``, the mean time per
  operation the server and the clients each spend on the one chain of
  events that sets the throughput (``_lockpath.py``).
"""

import glob
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import _lockpath

PERF_EVENTS = ["raw_syscalls:sys_enter", "context-switches", "task-clock"]


class NoProfile:
    wrapper = ()

    def before(self, server, label):
        pass

    def after(self, server):
        return {}


class PerfStat(NoProfile):
    def __init__(self, out_dir):
        self.out_dir = Path(out_dir)
        self.proc = None
        self.path = None

    def before(self, server, label):
        self.path = self.out_dir / f"perf-stat-{server.name}-{label}.csv"
        self.proc = subprocess.Popen(
            ["perf", "stat", "-x", ",", "-e", ",".join(PERF_EVENTS), "-p", str(server.pid), "-o", str(self.path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # perf needs a moment to attach; the window has not opened yet.
        time.sleep(0.05)

    def after(self, server):
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(30)
        counts = {}
        for line in self.path.read_text().splitlines():
            fields = line.split(",")
            if len(fields) < 3 or line.startswith("#"):
                continue
            try:
                counts[fields[2]] = float(fields[0])
            except ValueError:
                continue  # "<not counted>" / "<not supported>"
        return {
            "syscalls": counts.get("raw_syscalls:sys_enter", float("nan")),
            "ctx_switches": counts.get("context-switches", float("nan")),
            "task_clock_ms": counts.get("task-clock", float("nan")),
        }


class PerfRecord(NoProfile):
    def __init__(self, out_dir):
        self.out_dir = Path(out_dir)
        self.proc = None

    def before(self, server, label):
        if server.name != "ours":
            return
        path = self.out_dir / f"perf-{label}.data"
        self.proc = subprocess.Popen(
            ["perf", "record", "-F", "1999", "-g", "-p", str(server.pid), "-o", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.1)

    def after(self, server):
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(60)
            self.proc = None
        return {}


class Callgrind(NoProfile):
    def __init__(self, out_dir):
        self.out_dir = Path(out_dir)
        self.wrapper = (
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={self.out_dir}/callgrind.out.%p",
        )
        self.label = None

    def _control(self, server, *args):
        subprocess.run(["callgrind_control", *args, str(server.pid)], check=True, capture_output=True, timeout=60)

    def before(self, server, label):
        if server.name != "ours":
            return
        self.label = label
        self._control(server, "--zero")
        self._control(server, "--instr=on")

    def after(self, server):
        if server.name != "ours":
            return {}
        self._control(server, "--instr=off")
        before = set(glob.glob(f"{self.out_dir}/callgrind.out.{server.pid}*"))
        self._control(server, f"--dump={self.label}")
        new = sorted(set(glob.glob(f"{self.out_dir}/callgrind.out.{server.pid}*")) - before, key=os.path.getmtime)
        if not new:
            return {}
        dump = Path(new[-1])
        named = dump.with_name(f"callgrind.out.{self.label}")
        dump.rename(named)
        # "totals:" (the sum of all cost lines); callgrind leaves "summary:"
        # at 0 when instrumentation was switched on by callgrind_control.
        totals = [
            float(line.split()[1])
            for line in named.read_text(errors="replace").splitlines()
            if line.startswith(("summary:", "totals:"))
        ]
        return {"instructions": max(totals)} if totals else {}


class Tcpdump(NoProfile):
    """Captures the server's loopback traffic for the window (one pcap per
    run in ``--profile-dir``); for ``lock`` also splits each operation's
    chain into the server's and the client's part (``_lockpath.py``)."""

    def __init__(self, out_dir):
        self.out_dir = Path(out_dir)
        self.proc = None
        self.path = None
        self.lock = False

    def before(self, server, label):
        if shutil.which("tcpdump") is None:
            raise SystemExit("--profile tcpdump needs tcpdump (apt-get install tcpdump) and the right to capture (root)")
        self.path = self.out_dir / f"tcpdump-{server.name}-{label}.pcap"
        self.lock = label.startswith("lock-")
        port = server.address[1]
        self.proc = subprocess.Popen(
            ["tcpdump", "-i", "lo", "-n", "-s", "256", "-w", str(self.path), f"tcp port {port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        # tcpdump says "listening on lo" once it captures.
        line = self.proc.stderr.readline().decode(errors="replace")
        if "listening" not in line:
            self.proc.kill()
            raise SystemExit(f"tcpdump did not start: {line.strip()}")

    def after(self, server):
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(30)
        if not self.lock:
            return {}
        paths = _lockpath.lock_paths(self.path, server.address[1])
        return {
            "server_path_us": (paths["server"][0] * 1e6, paths["server"][1]),
            "client_path_us": (paths["client"][0] * 1e6, paths["client"][1]),
        }


PROFILERS = {"perf-stat": PerfStat, "perf-record": PerfRecord, "callgrind": Callgrind, "tcpdump": Tcpdump}


def make(name, out_dir):
    if not name:
        return NoProfile()
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return PROFILERS[name](out_dir)
