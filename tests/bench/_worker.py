"""One benchmark client process: an unmodified CPython manager client.

Started by the coordinator (``bench.py``) with a JSON line on stdin:
the server's address and authkey, the workload, this process's index, the
number of processes and the shared proxies (pickled). It connects a
``SyncManager``, prepares the workload's operation, warms up (so the
serving connection and its handshake are not timed), prints ``ready`` and
waits for ``go <start_ns> <end_ns>`` (``time.monotonic_ns`` values, a clock
every process on the machine shares). Between the two it runs the operation
back to back, timing each call; an operation that ends after ``end_ns`` is
not counted, nor is one that raised (counted as an error instead). It writes
the latencies (int64 nanoseconds, native order) to the file it was given and
prints a JSON line with the counts, the first error and its own CPU time
over the window (the client side of the cost).
"""

import json
import multiprocessing
import pickle
import sys
import time
from array import array
from multiprocessing.managers import SyncManager

from _workloads import WORKLOADS, Context, Stop


def main():
    cfg = json.loads(sys.stdin.readline())
    authkey = bytes.fromhex(cfg["authkey"])
    # Proxies rebuilt from pickles authenticate with the process key (wire
    # docs/protocol.md 6.3), as in a child started by multiprocessing.
    multiprocessing.current_process().authkey = authkey
    manager = SyncManager(address=tuple(cfg["address"]), authkey=authkey)
    manager.connect()
    shared = pickle.loads(bytes.fromhex(cfg["shared"]))
    workload = WORKLOADS[cfg["workload"]]
    ctx = Context(manager, shared, cfg["wid"], cfg["nprocs"])
    op = workload.prepare(ctx)
    for i in range(workload.warmup):
        op(i)
    print("ready", flush=True)

    go = sys.stdin.readline().split()
    if not go or go[0] != "go":
        raise SystemExit(f"expected 'go', got {go!r}")
    start_ns, end_ns = int(go[1]), int(go[2])
    ctx.end_ns = end_ns
    wait = (start_ns - time.monotonic_ns()) / 1e9
    if wait > 0:
        time.sleep(wait)

    lat = array("q")
    now = time.monotonic_ns
    cpu0 = time.process_time()
    i = workload.warmup
    errors, first_error = 0, None
    while True:
        t0 = now()
        if t0 >= end_ns:
            break
        try:
            op(i)
        except Stop:
            break
        except Exception as e:
            # A server error (a bug to report, not a reason to lose the
            # whole run): counted and shown, the op itself is not counted.
            errors += 1
            lines = [x for x in str(e).splitlines() if x.strip() and not x.startswith("---")]
            first_error = first_error or f"{type(e).__name__}: {lines[-1] if lines else ''}"[:300]
            i += 1
            continue
        t1 = now()
        if t1 > end_ns:
            break
        lat.append(t1 - t0)
        i += 1

    cpu = time.process_time() - cpu0
    with open(cfg["lat_path"], "wb") as f:
        lat.tofile(f)
    report = {"ops": len(lat), "errors": errors, "first_error": first_error, "cpu": cpu}
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
