"""The servers the benchmark compares, and what it reads about them from /proc.

Both servers run as child processes of the benchmark on a loopback port of
their own (port 0, read back from their first stdout line), with the same
authkey, so the same unmodified CPython client code can drive either:

* ``ours``: the release ``mpcluster-manager`` binary (admin surface off, so
  nothing but the data plane uses CPU);
* ``cpython``: CPython's own ``SyncManager`` server (``get_server()`` then
  ``serve_forever()``) in a subprocess of the interpreter given.

CPU time is read from ``/proc/<pid>/stat`` (utime + stime of the whole
thread group, dead threads included, which matters for CPython's server:
it runs one thread per connection and those threads come and go). Resident
size is ``VmRSS`` from ``/proc/<pid>/status``.
"""

import os
import platform
import subprocess
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# CPython's server: `multiprocessing.Manager()` gives the server process the
# manager's authkey as its process key; proxies the server itself rebuilds
# (none in these workloads, but keep the setup faithful) use it.
_CPYTHON_SERVER = r"""
import multiprocessing, sys
from multiprocessing.managers import SyncManager
key = bytes.fromhex(sys.argv[1])
multiprocessing.current_process().authkey = key
server = SyncManager(address=("127.0.0.1", 0), authkey=key).get_server()
print("cpython-manager listening on %s:%d" % server.address, flush=True)
server.serve_forever()
"""


def default_binary():
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "release" / "mpcluster-manager"


class Server:
    """A running manager server process (ours or CPython's)."""

    def __init__(self, name, proc, address, authkey):
        self.name = name
        self.proc = proc
        self.address = address
        self.authkey = authkey

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def cpu_seconds(self):
        """User + system CPU time of the whole process so far."""
        return sum(cpu_split(self.pid))

    def cpu_split(self):
        """(user, system) CPU seconds of the whole process so far."""
        return cpu_split(self.pid)

    def rss_kib(self):
        return rss_kib(self.pid)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def cpu_split(pid):
    """(utime, stime) in seconds: fields 14 and 15 of /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    # The command name (field 2) is in parentheses and may hold spaces:
    # split after its closing parenthesis; utime and stime are then the
    # 12th and 13th fields.
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _wait_listening(name, proc, log_path):
    line = proc.stdout.readline().decode(errors="replace")
    if "listening on" not in line:
        proc.kill()
        proc.wait()
        raise RuntimeError(f"{name} server did not start: {line!r}\n{Path(log_path).read_text(errors='replace')}")
    host, port = line.rsplit(" ", 1)[1].strip().rsplit(":", 1)
    # Keep draining stdout so the server never blocks on a full pipe.
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return host, int(port)


def start_ours(binary, authkey, log_dir, extra_flags=(), wrapper=()):
    """Our release binary; ``wrapper`` is a command prefix (a profiler)."""
    binary = Path(binary)
    if not binary.exists():
        raise SystemExit(
            f"{binary} is missing: build it with `cargo build --release -p mpcluster-manager` (or pass --binary)"
        )
    log_path = Path(log_dir) / "ours.log"
    env = dict(os.environ, MPCLUSTER_AUTHKEY=authkey.decode("latin-1"))
    args = [*wrapper, str(binary), "--bind", "127.0.0.1:0", "--no-admin", "--log", "warn", *extra_flags]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, env=env)
    return Server("ours", proc, _wait_listening("ours", proc, log_path), authkey)


def start_cpython(python, authkey, log_dir):
    log_path = Path(log_dir) / "cpython.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([python, "-c", _CPYTHON_SERVER, authkey.hex()], stdout=subprocess.PIPE, stderr=log)
    return Server("cpython", proc, _wait_listening("cpython", proc, log_path), authkey)


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}"
