"""Differential runner: the same scripted client steps against CPython's own
manager server and against ours (``mpcluster-manager``), outcome by outcome.

    python tests/diff/difftest.py [--ours-binary PATH] [--scenario NAME ...]

It starts a CPython ``SyncManager`` server (plus ``get_queue``/``get_dict``
registered with callables returning one shared Queue/dict, the docs'
remote-manager pattern) and our binary with the equivalent ``--config``, both
on 127.0.0.1 port 0, runs ``client.py`` once against each (in parallel, each
client an unmodified CPython), and compares the normalised outcomes. A step
listed in ``expected.py`` is excluded while ours answers exactly what the
table says. Exit status 0 means no difference.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

import scenarios  # noqa: E402
from expected import EXPECTED_DIFFERENCES  # noqa: E402

AUTHKEY = b"mpcluster-difftest-key"
OUR_CONFIG = '[objects]\nget_queue = { kind = "Queue" }\nget_dict = { kind = "dict" }\n'
# The whole client run against one server; far above the ~90 s budget, so
# only a hung server hits it.
CLIENT_TIMEOUT = 300

# CPython's reference server. The server process's own authkey is the
# manager's (as with `multiprocessing.Manager()`), so proxies passed as
# arguments (`Condition(lock_proxy)`) work when it connects back to itself.
CPYTHON_SERVER = r'''
import multiprocessing, queue, sys
from multiprocessing.managers import DictProxy, SyncManager

authkey = bytes.fromhex(sys.argv[1])
multiprocessing.current_process().authkey = authkey
shared_queue = queue.Queue()
shared_dict = {}

def get_queue():
    return shared_queue

def get_dict():
    return shared_dict

class DiffManager(SyncManager):
    pass

DiffManager.register("get_queue", callable=get_queue)
# A named `dict` serves the dict typeid's methods (dunders included), as a
# server registering it with `proxytype=DictProxy` does.
DiffManager.register("get_dict", callable=get_dict, proxytype=DictProxy)
server = DiffManager(address=("127.0.0.1", 0), authkey=authkey).get_server()
print("listening on %s:%d" % server.address, flush=True)
server.serve_forever()
'''


class Server:
    """A server process under test and the address it listens on."""

    def __init__(self, name, proc, address, log_path):
        self.name = name
        self.proc = proc
        self.address = address
        self.log_path = log_path

    def log_tail(self, lines=30):
        if self.log_path is None:
            return ""
        text = Path(self.log_path).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _wait_listening(name, proc, log_path):
    """Reads stdout up to the 'listening on HOST:PORT' line."""
    deadline = time.monotonic() + 30
    line = b""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line or b"listening on" in line:
            break
    if b"listening on" not in line:
        proc.kill()
        log = Path(log_path).read_text(errors="replace")
        raise RuntimeError("%s did not start (%r):\n%s" % (name, line, log))
    host, port = line.decode().rsplit(" ", 1)[1].strip().rsplit(":", 1)
    # Keep draining stdout so the server never blocks on a full pipe.
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return Server(name, proc, (host, int(port)), log_path)


def start_cpython(python, workdir):
    Path(workdir).mkdir(parents=True, exist_ok=True)
    log_path = Path(workdir) / "cpython-server.log"
    env = dict(os.environ, PYTHONHASHSEED="0")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([python, "-c", CPYTHON_SERVER, AUTHKEY.hex()],
                                stdout=subprocess.PIPE, stderr=log, env=env)
    return _wait_listening("CPython server", proc, log_path)


def default_binary():
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "debug" / "mpcluster-manager"


def start_ours(binary, workdir):
    cfg = Path(workdir) / "named.toml"
    cfg.write_text(OUR_CONFIG)
    log_path = Path(workdir) / "ours-server.log"
    env = dict(os.environ, MPCLUSTER_AUTHKEY=AUTHKEY.decode("latin-1"))
    env.setdefault("MPCLUSTER_LOG", "info")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(binary), "--bind", "127.0.0.1:0", "--admin-bind", "127.0.0.1:0",
                                 "--config", str(cfg)],
                                stdout=subprocess.PIPE, stderr=log, env=env)
    return _wait_listening("mpcluster-manager", proc, log_path)


class ClientRun:
    """The outcome records of one client run against one server."""

    def __init__(self, records, returncode, stderr, seconds):
        self.records = records
        self.returncode = returncode
        self.stderr = stderr
        self.seconds = seconds


def run_client(python, address, names, timeout=CLIENT_TIMEOUT):
    cmd = [python, str(HERE / "client.py"), "--address", "%s:%d" % address,
           "--authkey-hex", AUTHKEY.hex()]
    for n in names:
        cmd += ["--scenario", n]
    env = dict(os.environ, PYTHONHASHSEED="0")
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        out, err, code = r.stdout, r.stderr, r.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = (e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")) + \
            "\n[client killed after %ds]" % timeout
        code = -9
    records = []
    for line in out.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            err += "\n[unparsable client output] " + line
    return ClientRun(records, code, err, time.monotonic() - t0)


class Report:
    """The comparison of two client runs."""

    def __init__(self, names):
        self.names = names
        self.steps = 0
        self.differences = []  # (scenario, index, code, cpython, ours)
        self.expected = []  # (scenario, index, code, cpython, ours, reason)
        self.stale = []  # (scenario, code, reason): listed but no longer differs
        self.problems = []  # free text: crashed clients, dead servers
        self.seconds = 0.0
        self.slowest = []

    @property
    def ok(self):
        return not self.differences and not self.problems

    def text(self):
        out = []
        if self.differences:
            out.append("DIFFERENCES (%d):" % len(self.differences))
            for scenario, index, code, cp, ours in self.differences:
                out.append("[%s #%d] %s" % (scenario, index, _one_line(code)))
                out.append("    cpython: %s" % cp)
                out.append("    ours:    %s" % ours)
        for p in self.problems:
            out.append("PROBLEM: " + p)
        if self.expected:
            out.append("Expected differences (%d, excluded from the count):" % len(self.expected))
            for scenario, index, code, cp, ours, reason in self.expected:
                out.append("  [%s #%d] %s -- %s" % (scenario, index, _one_line(code), reason))
        for scenario, code, reason in self.stale:
            out.append("STALE expectation (ours agrees with CPython or step gone): [%s] %s -- %s"
                       % (scenario, _one_line(code), reason))
        out.append("%d scenarios, %d steps, %d differences, %d expected, %.1f s"
                   % (len(self.names), self.steps, len(self.differences), len(self.expected), self.seconds))
        return "\n".join(out)


def _one_line(code):
    return code.replace("\n", "\\n ")


def compare(names, cpython, ours, expected=EXPECTED_DIFFERENCES):
    """Compares two client runs step by step."""
    report = Report(names)
    ref = {(r["scenario"], r["index"]): r for r in cpython.records}
    got = {(r["scenario"], r["index"]): r for r in ours.records}
    seen_keys = set()
    for name in names:
        for index, code in enumerate(scenarios.SCENARIOS[name]):
            report.steps += 1
            key = (name, code)
            seen_keys.add(key)
            cp = ref.get((name, index), {}).get("outcome", "<no outcome: client stopped>")
            ou = got.get((name, index), {}).get("outcome", "<no outcome: client stopped>")
            exp = expected.get(key)
            if cp == ou:
                if exp is not None:
                    report.stale.append((name, code, exp.reason))
                continue
            if exp is not None and ou == exp.ours:
                report.expected.append((name, index, code, cp, ou, exp.reason))
                continue
            report.differences.append((name, index, code, cp, ou))
    for (name, code), exp in expected.items():
        if name in names and (name, code) not in seen_keys:
            report.stale.append((name, code, exp.reason))
    for label, run in (("CPython", cpython), ("ours", ours)):
        if run.returncode != 0:
            report.problems.append("client against %s exited with %s:\n%s"
                                   % (label, run.returncode, run.stderr[-3000:]))
    timed = [(r.get("seconds", 0), r["scenario"], r["index"]) for r in cpython.records]
    report.slowest = sorted(timed, reverse=True)[:5]
    return report


def run(ours_binary=None, names=None, python=None, ours_address=None, sequential=False,
        ours_cpython=False):
    """Starts both servers, runs the scenarios against each, compares.
    ``ours_cpython`` puts a second CPython server in our place: a check of
    the runner itself (every difference it then reports is noise)."""
    t0 = time.monotonic()
    python = python or sys.executable
    names = scenarios.ordered(names or list(scenarios.SCENARIOS))
    with tempfile.TemporaryDirectory(prefix="difftest-") as workdir:
        servers = []
        try:
            cp_server = start_cpython(python, workdir)
            servers.append(cp_server)
            if ours_cpython:
                our_server = start_cpython(python, Path(workdir) / "second")
                servers.append(our_server)
            elif ours_address is not None:
                our_server = Server("ours", None, ours_address, None)
            else:
                binary = Path(ours_binary) if ours_binary else default_binary()
                if not binary.exists():
                    raise FileNotFoundError("%s is missing: cargo build -p mpcluster-manager" % binary)
                our_server = start_ours(binary, workdir)
                servers.append(our_server)
            runs = {}

            def go(key, server):
                runs[key] = run_client(python, server.address, names)

            if sequential:
                go("cpython", cp_server)
                go("ours", our_server)
            else:
                threads = [threading.Thread(target=go, args=a) for a in
                           (("cpython", cp_server), ("ours", our_server))]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
            report = compare(names, runs["cpython"], runs["ours"])
            if our_server.proc is not None and our_server.proc.poll() is not None:
                report.problems.append("our server exited with %s during the run; log tail:\n%s"
                                       % (our_server.proc.returncode, our_server.log_tail()))
        finally:
            for s in servers:
                s.stop()
    report.seconds = time.monotonic() - t0
    return report


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ours-binary", help="mpcluster-manager binary (default: target/debug)")
    p.add_argument("--ours-address", help="HOST:PORT of an already running server of ours "
                   "(authkey %r, named objects get_queue/get_dict)" % AUTHKEY.decode())
    p.add_argument("--ours-cpython", action="store_true",
                   help="put a second CPython server in our place (checks the runner: expect no differences)")
    p.add_argument("--scenario", action="append", default=[], help="scenario name (repeatable); default all")
    p.add_argument("--python", help="interpreter for CPython's server and both clients (default: this one)")
    p.add_argument("--sequential", action="store_true", help="run the two clients one after the other")
    p.add_argument("--list", action="store_true", help="list scenarios and their step counts")
    p.add_argument("--json", help="also write the report's differences to this file as JSON")
    a = p.parse_args(argv)
    if a.list:
        for name, steps in scenarios.SCENARIOS.items():
            print("%-16s %3d steps" % (name, len(steps)))
        print("%-16s %3d steps" % ("total", sum(len(s) for s in scenarios.SCENARIOS.values())))
        return 0
    address = None
    if a.ours_address:
        host, port = a.ours_address.rsplit(":", 1)
        address = (host, int(port))
    report = run(a.ours_binary, a.scenario, a.python, address, a.sequential, a.ours_cpython)
    print(report.text())
    if a.json:
        Path(a.json).write_text(json.dumps({
            "differences": [dict(zip(("scenario", "index", "code", "cpython", "ours"), d))
                            for d in report.differences],
            "problems": report.problems,
            "steps": report.steps,
            "seconds": report.seconds,
        }, indent=1))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
