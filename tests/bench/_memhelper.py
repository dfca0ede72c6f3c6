"""A load process of the memory mode (``bench.py --memory``).

Run as ``_memhelper.py HOST PORT AUTHKEY_HEX MODE COUNT [THREADS]``; it
prints one line when its load is in place, then obeys stdin lines.

* ``connections``: opens COUNT authenticated connections with
  ``multiprocessing.connection.Client`` (the full handshake, as a manager
  client does before its first request) and leaves them idle. On ``check``
  it sends CPython's ``dummy`` control request on every one of them and
  prints how many answered (proof that the server kept them all, idle and
  authenticated); on ``close`` (or EOF) it closes them and exits.
* ``create``: creates COUNT ``Value('i', n)`` objects the way a CPython
  client's ``manager.Value(...)`` starts (a ``create`` control connection
  per object) and never drops the reference, so the server holds them.
  THREADS threads share the work (CPython's server stalls each control
  connection on delayed ACK, see docs/protocol.md 2.2a; threads hide that).
"""

import resource
import sys
import threading
from multiprocessing.connection import Client
from multiprocessing.managers import dispatch


def raise_fd_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        limit = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))


def hold_connections(address, authkey, count):
    raise_fd_limit(count + 64)
    conns = [Client(address, authkey=authkey) for _ in range(count)]
    print(f"open {len(conns)}", flush=True)
    for line in sys.stdin:
        if line.strip() == "check":
            alive = 0
            for c in conns:
                # A control connection serves exactly one request, then the
                # server closes it: this also ends the connection.
                dispatch(c, None, "dummy")
                alive += 1
            print(f"alive {alive}", flush=True)
        elif line.strip() == "close":
            break
    for c in conns:
        c.close()


def create_objects(address, authkey, count, threads):
    errors = []

    def work(n, first):
        try:
            for i in range(first, first + n):
                c = Client(address, authkey=authkey)
                try:
                    dispatch(c, None, "create", ("Value", "i", i & 0x7FFFFFFF))
                finally:
                    c.close()
        except Exception as e:  # reported to the coordinator below
            errors.append(repr(e))

    share, rest = divmod(count, threads)
    pool, first = [], 0
    for t in range(threads):
        n = share + (1 if t < rest else 0)
        pool.append(threading.Thread(target=work, args=(n, first)))
        first += n
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise SystemExit(f"create failed: {errors[0]}")
    print(f"created {count}", flush=True)
    sys.stdin.read()


def main():
    host, port, key_hex, mode, count = sys.argv[1:6]
    address, authkey, count = (host, int(port)), bytes.fromhex(key_hex), int(count)
    if mode == "connections":
        hold_connections(address, authkey, count)
    elif mode == "create":
        create_objects(address, authkey, count, int(sys.argv[6]) if len(sys.argv) > 6 else 1)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
