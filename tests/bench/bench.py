#!/usr/bin/env python3
"""mpcluster benchmark: our manager against CPython's, same CPython clients.

A command, not a test (nothing here runs in CI). It starts both servers
itself, then for every workload and client-process count runs the same
unmodified CPython client processes against ours, then CPython's, then
ours again, and so on (``--rounds`` alternations), so slow drifts of a
shared machine hit both alike. It prints, per workload and process count,
the medians over rounds of throughput, p50 and p99 latency and the server's
CPU time per operation, the ratios ours/CPython and which targets hold.

    python tests/bench/bench.py            # full run, about 8 minutes
    python tests/bench/bench.py --quick    # about a minute
    python tests/bench/bench.py --memory   # idle connections and held objects

Workloads come in groups. ``cpython`` (CPython client processes; servers:
ours and CPython's ``SyncManager`` server) is the only group so far; a
group is a name, its two servers and its workloads (see ``GROUPS``), so the
Rust-client-against-Redis comparison can be added as another group.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _servers  # noqa: E402
from _runner import run_once  # noqa: E402
from _workloads import STEADY, WORKLOADS  # noqa: E402

AUTHKEY = b"mpcluster-bench-key"


class CPythonClients:
    """Unmodified CPython clients against ours and CPython's server."""

    name = "cpython"
    servers = ("ours", "cpython")
    workloads = list(WORKLOADS)

    def start(self, opts, tmp_dir):
        return {
            "ours": _servers.start_ours(opts.binary, AUTHKEY, tmp_dir),
            "cpython": _servers.start_cpython(opts.server_python, AUTHKEY, tmp_dir),
        }

    def run(self, server, workload, procs, opts, tmp_dir, round_no):
        return run_once(self.name, server, workload, procs, opts.duration, opts.client_python, tmp_dir, round_no)


GROUPS = {g.name: g for g in [CPythonClients()]}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="1 round of 0.5 s runs (about a minute)")
    p.add_argument("--rounds", type=int, help="alternations per workload and process count (default 3)")
    p.add_argument("--duration", type=float, help="seconds per timed run (default 2)")
    p.add_argument("--procs", help="comma-separated client process counts (default 1,4,16)")
    p.add_argument("--workloads", help=f"comma-separated subset of: {', '.join(WORKLOADS)}")
    p.add_argument("--group", action="append", choices=sorted(GROUPS), help="workload group (default: all)")
    p.add_argument("--binary", type=Path, default=_servers.default_binary(), help="mpcluster-manager (release)")
    p.add_argument("--client-python", default=sys.executable, help="interpreter of the client processes")
    p.add_argument("--server-python", default=sys.executable, help="interpreter of CPython's server")
    p.add_argument("--json", type=Path, help="also write every run and the summary to this file")
    p.add_argument("--memory", action="store_true", help="memory mode instead (see _memory.py)")
    p.add_argument("--connections", type=int, default=10_000, help="memory mode: idle connections")
    p.add_argument("--objects", type=int, default=1_000_000, help="memory mode: small objects held")
    p.add_argument(
        "--memory-servers", default="ours", help="memory mode: comma-separated servers to measure (ours,cpython)"
    )
    opts = p.parse_args(argv)
    if opts.rounds is None:
        opts.rounds = 1 if opts.quick else 3
    if opts.duration is None:
        opts.duration = 0.5 if opts.quick else 2.0
    opts.procs = [int(x) for x in (opts.procs or "1,4,16").split(",")]
    opts.workloads = opts.workloads.split(",") if opts.workloads else None
    for w in opts.workloads or []:
        if w not in WORKLOADS:
            p.error(f"unknown workload {w!r}")
    opts.group = opts.group or list(GROUPS)
    return opts


def median(values):
    return statistics.median(values) if values else float("nan")


def summarize(results, group):
    """Medians over rounds per (workload, procs, server), with ratios."""
    ours, base = group.servers
    rows = []
    keys = sorted({(r.workload, r.procs) for r in results}, key=lambda k: (group.workloads.index(k[0]), k[1]))
    for workload, procs in keys:
        row = {"workload": workload, "procs": procs}
        for server in group.servers:
            runs = [r for r in results if (r.workload, r.procs, r.server) == (workload, procs, server)]
            row[server] = {
                "rounds": len(runs),
                "throughput": median([r.throughput for r in runs]),
                "p50_us": median([r.p50_us for r in runs]),
                "p99_us": median([r.p99_us for r in runs]),
                "cpu_per_op_us": median([r.cpu_per_op_us for r in runs]),
            }
        a, b = row[ours], row[base]
        row["ratio"] = {
            "throughput": a["throughput"] / b["throughput"] if b["throughput"] else float("nan"),
            "p99": a["p99_us"] / b["p99_us"] if b["p99_us"] else float("nan"),
            "cpu_per_op": a["cpu_per_op_us"] / b["cpu_per_op_us"] if b["cpu_per_op_us"] else float("nan"),
        }
        row["targets"] = targets(workload, procs, row["ratio"])
        rows.append(row)
    return rows


def targets(workload, procs, ratio):
    """The issue's targets for one row: name -> met (True/False)."""
    met = {}
    if workload == "create_drop":
        met["throughput>=50x"] = ratio["throughput"] >= 50
    elif workload in STEADY and procs in (4, 16):
        met["throughput>=2x"] = ratio["throughput"] >= 2
    met["p99 lower"] = ratio["p99"] < 1
    met["cpu/op>=10x lower"] = ratio["cpu_per_op"] <= 0.1
    return met


def fmt(x, digits=1):
    if x != x:  # NaN
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def print_table(rows, group, out=sys.stdout):
    ours, base = group.servers
    head = (
        f"{'workload':<13}{'procs':>6}"
        f"{'ops/s ' + ours:>14}{'ops/s ' + base:>14}{'x':>7}"
        f"{'p50us ' + ours:>12}{'p50us ' + base:>12}"
        f"{'p99us ' + ours:>12}{'p99us ' + base:>12}{'x':>6}"
        f"{'cpu/op ' + ours:>13}{'cpu/op ' + base:>13}{'x':>7}  targets"
    )
    print(head, file=out)
    for row in rows:
        a, b, r = row[ours], row[base], row["ratio"]
        failed = [k for k, ok in row["targets"].items() if not ok]
        verdict = "all met" if not failed else "MISSED: " + ", ".join(failed)
        print(
            f"{row['workload']:<13}{row['procs']:>6}"
            f"{fmt(a['throughput'], 0):>14}{fmt(b['throughput'], 0):>14}{fmt(r['throughput'], 2):>7}"
            f"{fmt(a['p50_us']):>12}{fmt(b['p50_us']):>12}"
            f"{fmt(a['p99_us']):>12}{fmt(b['p99_us']):>12}{fmt(r['p99'], 2):>6}"
            f"{fmt(a['cpu_per_op_us']):>13}{fmt(b['cpu_per_op_us']):>13}{fmt(r['cpu_per_op'], 3):>7}  {verdict}",
            file=out,
        )
    print(
        f"(medians of {max(row[ours]['rounds'] for row in rows)} rounds; 'x' columns are {ours}/{base}; "
        "cpu/op is server CPU microseconds per operation)",
        file=out,
    )


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


def run_bench(opts):
    all_results, summaries = [], {}
    started = time.monotonic()
    print(f"# {machine()}")
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; rounds={opts.rounds}, duration={opts.duration}s, procs={opts.procs}")
    with tempfile.TemporaryDirectory(prefix="mpcluster-bench-") as tmp:
        for gname in opts.group:
            group = GROUPS[gname]
            servers = group.start(opts, tmp)
            try:
                results = []
                for workload in opts.workloads or group.workloads:
                    for procs in opts.procs:
                        for round_no in range(opts.rounds):
                            for sname in group.servers:
                                r = group.run(servers[sname], workload, procs, opts, tmp, round_no)
                                results.append(r)
                                print(
                                    f"  {gname}/{workload}/{procs}p round {round_no + 1} {sname:<8}"
                                    f" {r.throughput:>10.0f} ops/s  p50 {r.p50_us:>9.1f} us"
                                    f"  p99 {r.p99_us:>9.1f} us  cpu/op {r.cpu_per_op_us:>8.1f} us",
                                    flush=True,
                                )
            finally:
                for s in servers.values():
                    s.stop()
            rows = summarize(results, group)
            print(f"\n== group {gname}: {' vs '.join(group.servers)} ==")
            print_table(rows, group)
            all_results += results
            summaries[gname] = rows
    print(f"\n# total {time.monotonic() - started:.0f} s")
    if opts.json:
        opts.json.write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "date": time.strftime("%Y-%m-%d"),
                    "argv": sys.argv[1:],
                    "runs": [r.to_json() for r in all_results],
                    "summary": summaries,
                },
                indent=1,
            )
        )


def main(argv=None):
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    if opts.memory:
        import _memory

        _memory.run(opts, AUTHKEY)
    else:
        run_bench(opts)


if __name__ == "__main__":
    main()
