"""One timed run: N client processes doing one workload against one server.

The coordinator creates the shared objects on the server under test, starts
the client processes (``_worker.py``), waits until every one has connected
and warmed up, then gives them all the same window on the shared monotonic
clock. It samples the server's CPU time at the window's start and end, so
the CPU per operation covers exactly the timed traffic (not process start,
warm-up or the decrefs of exiting clients). After the run it drops its
proxies, so every run starts on an empty server.
"""

import gc
import json
import multiprocessing
import os
import pickle
import select
import subprocess
import time
from array import array
from dataclasses import asdict, dataclass, field
from multiprocessing.managers import SyncManager
from pathlib import Path

from _workloads import WORKLOADS

HERE = Path(__file__).resolve().parent

# How long client processes may take to start, connect and warm up, and
# how long after the window they may take to report: bounds, not targets
# (CPython's server stalls ~130 ms per proxy creation, see docs/protocol.md 2.2a).
READY_TIMEOUT = 120.0
REPORT_TIMEOUT = 60.0
# Margin between the last client saying ready and the window's start, so
# every client is waiting on the clock when the window opens.
START_MARGIN = 0.2


@dataclass
class RunResult:
    group: str
    server: str
    workload: str
    procs: int
    round: int
    ops: int
    seconds: float
    throughput: float  # operations per second
    p50_us: float
    p99_us: float
    cpu_s: float  # server CPU seconds in the window
    cpu_per_op_us: float
    errors: int  # operations that raised (not counted in ops)
    first_error: str
    # Profiler counters over the window, per operation or per event (see
    # _profile.py and per_op).
    extra: dict = field(default_factory=dict)

    def to_json(self):
        return asdict(self)


class Worker:
    """A client process with a line reader that honours deadlines."""

    def __init__(self, python, cfg):
        self.proc = subprocess.Popen(
            [python, str(HERE / "_worker.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=HERE,
        )
        self.buf = b""
        self.send(json.dumps(cfg))

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def readline(self, deadline):
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("client process did not answer in time")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise RuntimeError(f"client process exited: {self.stderr()}")
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def stderr(self):
        self.kill()
        return self.proc.stderr.read().decode(errors="replace")[-3000:]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def finish(self, timeout):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self.proc.stdin.close()
        self.proc.stdout.close()
        self.proc.stderr.close()


def percentile(sorted_values, q):
    """Nearest-rank percentile of an already sorted sequence."""
    if not sorted_values:
        return float("nan")
    rank = max(1, int(-(-q * len(sorted_values) // 100)))  # ceil(q/100 * n)
    return sorted_values[min(rank, len(sorted_values)) - 1]


def per_op(counters, ops):
    """Counters over the window per operation; a ``(sum, n)`` pair is a mean
    of its own (a profiler's per-event figure, not divided by ``ops``)."""
    if not ops:
        return {}
    out = {}
    for k, v in counters.items():
        if isinstance(v, tuple):
            total, n = v
            out[k] = total / n if n else float("nan")
        else:
            out[k] = v / ops
    return out


def run_once(group, server, workload_name, nprocs, duration, python, tmp_dir, round_no, profiler):
    workload = WORKLOADS[workload_name]
    multiprocessing.current_process().authkey = server.authkey
    manager = SyncManager(address=server.address, authkey=server.authkey)
    manager.connect()
    shared = workload.shared(manager, nprocs)
    blob = pickle.dumps(shared).hex()
    lat_paths = [Path(tmp_dir) / f"lat-{server.name}-{workload_name}-{nprocs}-{w}.bin" for w in range(nprocs)]
    workers = []
    try:
        for w in range(nprocs):
            cfg = {
                "address": list(server.address),
                "authkey": server.authkey.hex(),
                "workload": workload_name,
                "wid": w,
                "nprocs": nprocs,
                "shared": blob,
                "lat_path": str(lat_paths[w]),
            }
            workers.append(Worker(python, cfg))
        deadline = time.monotonic() + READY_TIMEOUT
        for w in workers:
            line = w.readline(deadline)
            if line != "ready":
                raise RuntimeError(f"client said {line!r} instead of ready")

        # Clients are idle, waiting for "go": a profiler attaches now and
        # sees nothing but the window's traffic.
        profiler.before(server, f"{workload_name}-{nprocs}p-r{round_no + 1}")
        start = time.monotonic_ns() + int(START_MARGIN * 1e9)
        end = start + int(duration * 1e9)
        for w in workers:
            w.send(f"go {start} {end}")
        time.sleep(max(0.0, (start - time.monotonic_ns()) / 1e9))
        user0, sys0 = server.cpu_split()
        time.sleep(max(0.0, (end - time.monotonic_ns()) / 1e9))
        user1, sys1 = server.cpu_split()
        counters = profiler.after(server)
        # The kernel's share: syscalls, loopback TCP, wake-ups.
        counters["sys_us"] = (sys1 - sys0) * 1e6

        deadline = time.monotonic() + REPORT_TIMEOUT
        ops, errors, first_error, client_cpu = 0, 0, None, 0.0
        for w in workers:
            report = json.loads(w.readline(deadline))
            ops += report["ops"]
            client_cpu += report["cpu"]
            errors += report["errors"]
            first_error = first_error or report["first_error"]
        for w in workers:
            w.finish(REPORT_TIMEOUT)
    finally:
        for w in workers:
            w.kill()
        # Drop the coordinator's references: the server ends the run empty.
        del shared
        gc.collect()

    lat = array("q")
    for p in lat_paths:
        with open(p, "rb") as f:
            lat.frombytes(f.read())
        p.unlink()
    if len(lat) != ops:
        raise RuntimeError(f"{len(lat)} latencies for {ops} operations")
    ordered = sorted(lat)
    cpu = (user1 - user0) + (sys1 - sys0)
    # What the client processes spent (both servers share the cores with
    # them): the part of an operation no server can remove.
    counters["client_cpu_us"] = client_cpu * 1e6
    if not server.alive():
        raise RuntimeError(f"the {server.name} server died during {workload_name}")
    return RunResult(
        group=group,
        server=server.name,
        workload=workload_name,
        procs=nprocs,
        round=round_no,
        ops=ops,
        seconds=duration,
        throughput=ops / duration,
        p50_us=percentile(ordered, 50) / 1e3,
        p99_us=percentile(ordered, 99) / 1e3,
        cpu_s=cpu,
        cpu_per_op_us=(cpu / ops * 1e6) if ops else float("nan"),
        errors=errors,
        first_error=first_error or "",
        extra=per_op(counters, ops),
    )
