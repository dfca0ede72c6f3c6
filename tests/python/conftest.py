"""Shared fixtures of the CPython interop suite.

The tests drive the project's real binaries (built by ``scripts/test``) with
unmodified CPython code. Other CPython versions come from pyenv and are found
by globbing; a missing one is skipped with a message naming it.
"""

import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Versions the suite runs cross-version clients with, besides the venv's own.
WANTED_VERSIONS = ("3.8", "3.11", "3.12", "3.13")


def target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


def cargo_bin(name: str, example: bool = False) -> Path:
    """Path of a binary (or example) that ``scripts/test`` has built."""
    sub = "debug/examples" if example else "debug"
    path = target_dir() / sub / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run ./scripts/test (it builds binaries and examples first)")
    return path


def find_python(version: str):
    """The interpreter for ``version`` (e.g. ``"3.12"``), or None."""
    if sys.version_info[:2] == tuple(int(x) for x in version.split(".")):
        return sys.executable
    roots = []
    try:
        roots.append(subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        pass
    roots.append(os.path.expanduser("~/.pyenv"))
    for root in roots:
        hits = sorted(glob.glob(os.path.join(root, "versions", f"{version}.*", "bin", "python3")))
        if hits:
            return hits[-1]
    return None


@pytest.fixture(params=WANTED_VERSIONS)
def client_python(request):
    """Each wanted CPython version's interpreter; skipped, by name, when absent."""
    exe = find_python(request.param)
    if exe is None:
        pytest.skip(f"CPython {request.param} is not installed (looked in pyenv versions)")
    return exe


# ---------------------------------------------------------------------------
# The manager server under test

import socket
import threading
import time


class Manager:
    """A running ``mpcluster-manager`` process on a port of its own."""

    def __init__(self, proc, address, authkey, log_path):
        self.proc = proc
        self.address = address
        self.authkey = authkey
        self.log_path = log_path

    def log(self) -> str:
        return Path(self.log_path).read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_manager(tmp_dir, *flags, authkey=b"mpcluster-test-key", config=None, env=None, preexec_fn=None):
    """Starts the real binary bound to 127.0.0.1 on a free port (port 0) and
    waits for its 'listening on' line (``preexec_fn``: run in the child
    before it starts, e.g. to set resource limits)."""
    binary = cargo_bin("mpcluster-manager")
    args = [str(binary), "--bind", "127.0.0.1:0", *flags]
    if config is not None:
        cfg = Path(tmp_dir) / f"named-{time.monotonic_ns()}.toml"
        cfg.write_text(config)
        args += ["--config", str(cfg)]
    log_path = Path(tmp_dir) / f"manager-{time.monotonic_ns()}.log"
    full_env = dict(
        os.environ,
        MPCLUSTER_AUTHKEY=authkey.decode("latin-1"),
        MPCLUSTER_LOG="debug",
        # Admin on a free port too, unless a test asks for one.
        MPCLUSTER_ADMIN_BIND="127.0.0.1:0",
        MPCLUSTER_ADMIN_TOKEN="mpcluster-test-admin-token",
    )
    full_env.update(env or {})
    log = open(log_path, "wb")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, env=full_env, preexec_fn=preexec_fn)
    line = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line or b"listening on" in line:
            break
    if b"listening on" not in line:
        proc.kill()
        raise RuntimeError(f"manager did not start: {line!r}\n{log_path.read_text(errors='replace')}")
    host, port = line.decode().rsplit(" ", 1)[1].strip().rsplit(":", 1)
    # Keep draining stdout so the server never blocks on a full pipe.
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return Manager(proc, (host, int(port)), authkey, log_path)


@pytest.fixture(scope="module")
def manager(tmp_path_factory):
    """One manager shared by a test module (default flags)."""
    m = start_manager(tmp_path_factory.mktemp("manager"))
    yield m
    m.stop()


@pytest.fixture
def manager_factory(tmp_path):
    """Starts managers with custom flags; all are stopped after the test."""
    started = []

    def factory(*flags, **kw):
        m = start_manager(tmp_path, *flags, **kw)
        started.append(m)
        return m

    yield factory
    for m in started:
        m.stop()


@pytest.fixture
def sync_manager(manager):
    """An unmodified CPython SyncManager connected to the shared manager."""
    import multiprocessing
    from multiprocessing.managers import SyncManager

    # Nested proxies are rebuilt with the process authkey (docs/protocol.md 6.3).
    multiprocessing.current_process().authkey = manager.authkey
    m = SyncManager(address=manager.address, authkey=manager.authkey)
    m.connect()
    return m


def run_client(python, code, manager, timeout=60):
    """Runs ``code`` in a separate CPython process (any version) with
    ``ADDRESS`` and ``AUTHKEY`` defined; returns its stdout."""
    prelude = (
        "import multiprocessing, sys\n"
        f"ADDRESS = {manager.address!r}\n"
        f"AUTHKEY = {manager.authkey!r}\n"
        "multiprocessing.current_process().authkey = AUTHKEY\n"
    )
    r = subprocess.run([python, "-c", prelude + code], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(f"client ({python}) failed with {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r.stdout
