"""Memory mode of the benchmark (``bench.py --memory``).

Three measures, each on a fresh server (a process's resident size rarely
shrinks after frees, so one measure must not inherit another's heap), each
reporting the server's resident size (``VmRSS``) before and after the load
is in place, the growth per item and the server CPU time spent:

* ``idle connections``: ``--connections`` authenticated connections left
  idle, opened by several load processes (2,500 sockets each, with
  ``RLIMIT_NOFILE`` raised), then checked alive with one ``dummy`` request
  each.
* ``dict entries``: one shared dict filled with ``--objects`` small entries
  (``'k<n>' -> n``) by an unmodified ``DictProxy.update`` in batches.
* ``list of small ints`` / ``list of Nones`` / ``list of 10-char strs``:
  one shared list filled with ``--objects`` items by ``ListProxy.extend``
  in batches: ints ``n % 256`` (CPython shares its cached small ints, so
  each item is one 8-byte pointer there), ``None``, and distinct strings
  ``'%010d' % n``.
* ``manager objects``: ``--objects`` ``Value('i', n)`` objects created by
  ``create`` control connections and held by the server (refcount 1, no
  proxy). Slow by nature (one connection and handshake per object);
  CPython's server is measured with at most 10,000 of them, since each of
  its control connections stalls ~40 ms (docs/protocol.md 2.2a).
"""

import math
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from multiprocessing.managers import SyncManager
from pathlib import Path

import _servers
from _memhelper import raise_fd_limit

HERE = Path(__file__).resolve().parent
CONNECTIONS_PER_PROCESS = 2500
CPYTHON_MAX_OBJECTS = 10_000
SETTLE = 1.0  # seconds for the server to finish what the clients started
LOAD_TIMEOUT = 3600


def _helper(server, mode, count, threads=1):
    host, port = server.address
    args = [sys.executable, str(HERE / "_memhelper.py"), host, str(port), server.authkey.hex(), mode, str(count)]
    return subprocess.Popen(
        args + [str(threads)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=HERE
    )


def _expect(proc, word):
    line = proc.stdout.readline()
    if not line.startswith(word):
        proc.kill()
        raise RuntimeError(f"load process said {line!r}, expected {word!r}")
    return int(line.split()[1])


def _finish(procs):
    for p in procs:
        if p.poll() is None:
            try:
                p.stdin.write("close\n")
                p.stdin.close()
            except BrokenPipeError:
                pass
    for p in procs:
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def idle_connections(server, count):
    nprocs = max(1, math.ceil(count / CONNECTIONS_PER_PROCESS))
    shares = [count // nprocs + (1 if i < count % nprocs else 0) for i in range(nprocs)]
    procs = [_helper(server, "connections", n) for n in shares]
    try:
        opened = sum(_expect(p, "open") for p in procs)
        time.sleep(SETTLE)
        rss = server.rss_kib()
        for p in procs:
            p.stdin.write("check\n")
            p.stdin.flush()
        alive = sum(_expect(p, "alive") for p in procs)
    finally:
        _finish(procs)
    if alive != opened:
        raise RuntimeError(f"only {alive} of {opened} idle connections were still served")
    return opened, rss, f"all {alive} answered a request afterwards"


def _filled(make_proxy, add_batch, note):
    """A measure that fills one shared container with ``count`` items, in
    batches of 10,000 through ``add_batch(proxy, first, stop)``."""

    def measure(server, count):
        multiprocessing.current_process().authkey = server.authkey
        m = SyncManager(address=server.address, authkey=server.authkey)
        m.connect()
        proxy = make_proxy(m)
        batch = 10_000
        for first in range(0, count, batch):
            add_batch(proxy, first, min(count, first + batch))
        held = len(proxy)
        time.sleep(SETTLE)
        rss = server.rss_kib()
        del proxy
        return held, rss, note

    return measure


dict_entries = _filled(
    lambda m: m.dict(),
    lambda d, first, stop: d.update({f"k{i}": i for i in range(first, stop)}),
    "one DictProxy, str keys, int values",
)


def _list_of(make, note):
    return _filled(lambda m: m.list(), lambda l, first, stop: l.extend([make(i) for i in range(first, stop)]), note)


list_small_ints = _list_of(lambda i: i % 256, "one ListProxy, ints 0-255")
list_nones = _list_of(lambda i: None, "one ListProxy, None")
list_strs = _list_of(lambda i: "%010d" % i, "one ListProxy, distinct 10-char strs")


def manager_objects(server, count):
    if server.name == "cpython":
        count = min(count, CPYTHON_MAX_OBJECTS)
        nprocs, threads = 2, 16
    else:
        # Our server answers without stalls: the work is CPU-bound on both
        # sides, so processes (not threads), two per core.
        nprocs, threads = 2 * (os.cpu_count() or 1), 1
    shares = [count // nprocs + (1 if i < count % nprocs else 0) for i in range(nprocs)]
    procs = [_helper(server, "create", n, threads) for n in shares]
    try:
        created = sum(_expect(p, "created") for p in procs)
    finally:
        _finish(procs)
    time.sleep(SETTLE)
    return created, server.rss_kib(), "Value('i', n) via create, held at refcount 1"


MEASURES = [
    ("idle connections", "connections", idle_connections),
    ("dict entries", "objects", dict_entries),
    ("list of small ints", "objects", list_small_ints),
    ("list of Nones", "objects", list_nones),
    ("list of 10-char strs", "objects", list_strs),
    ("manager objects", "objects", manager_objects),
]


def run(opts, authkey):
    # Servers inherit this process's fd limit: 10,000 sockets need more
    # than the usual 1,024.
    raise_fd_limit(opts.connections + 1024)
    servers = opts.memory_servers.split(",")
    rows = []
    print(f"# {_servers.machine()}")
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; command: bench.py {' '.join(sys.argv[1:])}")
    with tempfile.TemporaryDirectory(prefix="mpcluster-bench-mem-") as tmp:
        wanted = getattr(opts, "memory_measures", None)
        for title, knob, measure in MEASURES:
            if wanted and not any(w.strip() and w.strip() in title for w in wanted.split(",")):
                continue
            for name in servers:
                if name == "ours":
                    server = _servers.start_ours(opts.binary, authkey, tmp)
                else:
                    server = _servers.start_cpython(opts.server_python, authkey, tmp)
                try:
                    time.sleep(SETTLE)
                    before = server.rss_kib()
                    cpu0 = server.cpu_seconds()
                    started = time.monotonic()
                    count, after, note = measure(server, getattr(opts, knob))
                    took = time.monotonic() - started
                    cpu = server.cpu_seconds() - cpu0
                    if not server.alive():
                        raise RuntimeError(f"the {name} server died during {title}")
                finally:
                    server.stop()
                row = (title, name, count, before, after, (after - before) * 1024 / count, took, cpu, note)
                rows.append(row)
                print(
                    f"  {title} / {name}: {count} held, RSS {before / 1024:.1f} -> {after / 1024:.1f} MiB"
                    f" ({row[5]:.0f} B each), {took:.1f} s, server CPU {cpu:.1f} s",
                    flush=True,
                )
    print("\n| measure | server | count | RSS before (MiB) | RSS after (MiB) | per item (bytes) | load time (s) "
          "| server CPU (s) | note |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for title, name, count, before, after, per, took, cpu, note in rows:
        print(
            f"| {title} | {name} | {count:,} | {before / 1024:.1f} | {after / 1024:.1f} | {per:,.0f} | {took:.1f}"
            f" | {cpu:.1f} | {note} |"
        )
