#!/usr/bin/env python3
"""mpcluster benchmark: our manager against CPython's, same CPython clients.

A command, not a test (nothing here runs in CI). It starts both servers
itself, then for every workload and client-process count runs the same
unmodified CPython client processes against ours, then CPython's, then
ours again, and so on (``--rounds`` alternations), so slow drifts of a
shared machine hit both alike. It prints, per workload and process count,
the medians over rounds of throughput, p50 and p99 latency and the server's
CPU time per operation, the ratios ours/CPython and which targets hold.

    python tests/bench/bench.py            # full run, about 7 minutes
    python tests/bench/bench.py --quick    # about 1.5 minutes
    python tests/bench/bench.py --memory   # idle connections and held objects

Workloads come in groups. ``python-clients`` (CPython client processes;
servers: ours and CPython's ``SyncManager`` server) is the only group so far; a
group is a name, its two servers and its workloads (see ``GROUPS``), so the
Rust-client-against-Redis comparison can be added as another group.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _profile  # noqa: E402
import _servers  # noqa: E402
from _runner import run_once  # noqa: E402
from _workloads import STEADY, WORKLOADS  # noqa: E402

AUTHKEY = b"mpcluster-bench-key"


class CPythonClients:
    """Unmodified CPython clients against ours and CPython's server."""

    name = "python-clients"
    servers = ("ours", "cpython")
    workloads = list(WORKLOADS)

    def start(self, opts, tmp_dir, profiler, names):
        servers = {}
        try:
            if "ours" in names:
                servers["ours"] = _servers.start_ours(
                    opts.binary, AUTHKEY, tmp_dir, extra_flags=opts.ours_flags, wrapper=profiler.wrapper
                )
            if "cpython" in names:
                servers["cpython"] = _servers.start_cpython(opts.server_python, AUTHKEY, tmp_dir)
        except BaseException:
            for s in servers.values():
                s.stop()
            raise
        return servers

    def run(self, server, workload, procs, opts, tmp_dir, round_no, profiler):
        return run_once(
            self.name, server, workload, procs, opts.duration, opts.client_python, tmp_dir, round_no, profiler
        )


GROUPS = {g.name: g for g in [CPythonClients()]}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="1 round of 0.5 s runs (about 1.5 minutes)")
    p.add_argument("--rounds", type=int, help="alternations per workload and process count (default 3)")
    p.add_argument("--duration", type=float, help="seconds per timed run (default 2)")
    p.add_argument("--procs", help="comma-separated client process counts (default 1,4,16)")
    p.add_argument("--workloads", help=f"comma-separated subset of: {', '.join(WORKLOADS)}")
    p.add_argument("--group", action="append", choices=sorted(GROUPS), help="workload group (default: all)")
    p.add_argument("--binary", type=Path, default=_servers.default_binary(), help="mpcluster-manager (release)")
    p.add_argument(
        "--workers", type=int, help="our server's --workers (default: its own, one per CPU)"
    )
    p.add_argument("--client-python", default=sys.executable, help="interpreter of the client processes")
    p.add_argument("--server-python", default=sys.executable, help="interpreter of CPython's server")
    p.add_argument("--servers", help="comma-separated subset of the group's servers (e.g. ours, to profile it)")
    p.add_argument("--profile", choices=sorted(_profile.PROFILERS), help="attach a profiler to each window")
    p.add_argument(
        "--profile-dir",
        type=Path,
        default=_servers.ROOT / "target" / "bench-profile",
        help="where profiler files go (default: target/bench-profile, ignored by git)",
    )
    p.add_argument("--json", type=Path, help="also write every run and the summary to this file")
    p.add_argument("--memory", action="store_true", help="memory mode instead (see _memory.py)")
    p.add_argument("--connections", type=int, default=10_000, help="memory mode: idle connections")
    p.add_argument("--objects", type=int, default=1_000_000, help="memory mode: small objects held")
    p.add_argument(
        "--memory-servers", default="ours,cpython", help="memory mode: comma-separated servers to measure"
    )
    p.add_argument(
        "--memory-measures",
        default="",
        help="memory mode: comma-separated parts of measure titles to run (default: all)",
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
    opts.servers = opts.servers.split(",") if opts.servers else None
    opts.ours_flags = ("--workers", str(opts.workers)) if opts.workers else ()
    return opts


def median(values):
    return statistics.median(values) if values else float("nan")


def _ratio(a, b):
    return a / b if b and a == a and b == b else float("nan")


def summarize(results, group):
    """Medians over rounds per (workload, procs, server), with ratios."""
    ours, base = group.servers
    rows = []
    keys = sorted({(r.workload, r.procs) for r in results}, key=lambda k: (group.workloads.index(k[0]), k[1]))
    for workload, procs in keys:
        row = {"workload": workload, "procs": procs}
        for server in group.servers:
            runs = [r for r in results if (r.workload, r.procs, r.server) == (workload, procs, server)]
            extra_keys = sorted({k for r in runs for k in r.extra})
            row[server] = {
                "rounds": len(runs),
                "throughput": median([r.throughput for r in runs]),
                "p50_us": median([r.p50_us for r in runs]),
                "p99_us": median([r.p99_us for r in runs]),
                "cpu_per_op_us": median([r.cpu_per_op_us for r in runs]),
                "extra": {k: median([r.extra[k] for r in runs if k in r.extra]) for k in extra_keys},
                "errors": sum(r.errors for r in runs),
            }
        a, b = row[ours], row[base]
        row["ratio"] = {
            "throughput": _ratio(a["throughput"], b["throughput"]),
            "p99": _ratio(a["p99_us"], b["p99_us"]),
            "cpu_per_op": _ratio(a["cpu_per_op_us"], b["cpu_per_op_us"]),
        }
        row["bound"] = cpu_bound(a, b)
        row["targets"] = targets(workload, procs, row["ratio"]) if a["rounds"] and b["rounds"] else {}
        if a["errors"]:
            row["targets"]["no errors"] = False
        rows.append(row)
    return rows


def cpu_bound(a, b):
    """How much of the machine each server's run kept busy, and the ratio
    both would reach with every core busy.

    Server and client processes share the machine's cores, so throughput can
    never pass cores / (server CPU + clients' CPU per operation). When both
    runs keep (nearly) all cores busy, the ratio of throughputs is that
    ceiling's ratio, and it only moves with the CPU one operation costs.
    """

    def cpu_per_op(side):
        return side["cpu_per_op_us"] + side["extra"].get("client_cpu_us", float("nan"))

    ours, base = cpu_per_op(a), cpu_per_op(b)
    return {
        "cores_busy": [a["throughput"] * ours / 1e6, b["throughput"] * base / 1e6],
        "ratio_at_full_cores": _ratio(base, ours),
    }


def targets(workload, procs, ratio):
    """The issue's targets for one row: name -> met (True/False). The
    throughput, p99 and CPU targets of steady workloads are set at 4 and 16
    processes; create+drop has its throughput target at every count."""
    met = {}
    if workload == "create_drop":
        met["ops/s >= 50x"] = ratio["throughput"] >= 50
    elif workload in STEADY and procs in (4, 16):
        met["ops/s >= 2x"] = ratio["throughput"] >= 2
        met["p99 lower"] = ratio["p99"] < 1
        met["cpu/op 10x lower"] = ratio["cpu_per_op"] <= 0.1
    return met


# Column titles of the per-op counters runs may carry (see _runner/_profile).
EXTRA_LABELS = {
    "client_cpu_us": "client cpu/op us",
    "sys_us": "sys/op us",
    "syscalls": "syscalls/op",
    "ctx_switches": "ctx switches/op",
    "task_clock_ms": "task-clock/op ms",
    "instructions": "instructions/op",
    "server_path_us": "server path us",
    "client_path_us": "client path us",
}


def fmt(x, digits=1):
    if x != x:  # NaN
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def print_table(rows, group, out=sys.stdout):
    """A Markdown table (readable as is, and pasted into docs/performance.md)."""
    ours, base = group.servers
    cols = [
        "workload",
        "procs",
        f"ops/s {ours}",
        f"ops/s {base}",
        "x",
        f"p50 us {ours}",
        f"p50 us {base}",
        f"p99 us {ours}",
        f"p99 us {base}",
        "x",
        f"cpu/op us {ours}",
        f"cpu/op us {base}",
        "x",
        "targets",
    ]
    extra_keys = sorted({k for row in rows for s in group.servers for k in row[s]["extra"]})
    for k in extra_keys:
        label = EXTRA_LABELS.get(k, f"{k}/op")
        cols[-1:-1] = [f"{label} {ours}", f"{label} {base}"]
    print("| " + " | ".join(cols) + " |", file=out)
    print("|" + "|".join("---" if c in ("workload", "targets") else "---:" for c in cols) + "|", file=out)
    for row in rows:
        a, b, r = row[ours], row[base], row["ratio"]
        failed = [k for k, ok in row["targets"].items() if not ok]
        verdict = "-" if not row["targets"] else "all met" if not failed else "missed: " + ", ".join(failed)
        cells = [
            row["workload"],
            str(row["procs"]),
            fmt(a["throughput"], 0),
            fmt(b["throughput"], 0),
            fmt(r["throughput"], 2),
            fmt(a["p50_us"]),
            fmt(b["p50_us"]),
            fmt(a["p99_us"]),
            fmt(b["p99_us"]),
            fmt(r["p99"], 2),
            fmt(a["cpu_per_op_us"]),
            fmt(b["cpu_per_op_us"]),
            fmt(r["cpu_per_op"], 2),
        ]
        for k in extra_keys:
            cells += [fmt(a["extra"].get(k, float("nan")), 2), fmt(b["extra"].get(k, float("nan")), 2)]
        cells.append(verdict)
        print("| " + " | ".join(cells) + " |", file=out)
    rounds = max(max(row[s]["rounds"] for s in group.servers) for row in rows)
    print(
        f"\nMedians of {rounds} round(s); 'x' columns are {ours}/{base} (ops/s: higher is better for {ours}; "
        "p99 and cpu/op: lower is better); cpu/op is the server's CPU time per operation.",
        file=out,
    )
    print_bound_table(rows, group, out)


def print_bound_table(rows, group, out):
    """Cores kept busy per run and the ratio at full cores (``cpu_bound``)."""
    ours, base = group.servers
    print(
        f"\n| workload | procs | cores busy {ours} | cores busy {base} | x at full cores | x measured |\n"
        "|---|---:|---:|---:|---:|---:|",
        file=out,
    )
    for row in rows:
        busy = row["bound"]["cores_busy"]
        print(
            f"| {row['workload']} | {row['procs']} | {fmt(busy[0], 2)} | {fmt(busy[1], 2)} "
            f"| {fmt(row['bound']['ratio_at_full_cores'], 2)} | {fmt(row['ratio']['throughput'], 2)} |",
            file=out,
        )
    print(
        f"\nCores busy: ops/s x (server + clients' CPU per op), out of {os.cpu_count()}. Where both runs keep "
        "nearly every core busy, the measured ratio cannot pass 'x at full cores' whatever the server does "
        "but cost less CPU per operation.",
        file=out,
    )


def run_bench(opts):
    all_results, summaries = [], {}
    started = time.monotonic()
    profiler = _profile.make(opts.profile, opts.profile_dir)
    print(f"# {_servers.machine()}")
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; rounds={opts.rounds}, duration={opts.duration}s,"
        f" procs={opts.procs}; load average {os.getloadavg()[0]:.2f}; command: bench.py {' '.join(sys.argv[1:])}"
    )
    with tempfile.TemporaryDirectory(prefix="mpcluster-bench-") as tmp:
        for gname in opts.group:
            group = GROUPS[gname]
            names = [s for s in group.servers if opts.servers is None or s in opts.servers]
            servers = group.start(opts, tmp, profiler, names)
            results = []
            try:
                for workload in opts.workloads or group.workloads:
                    for procs in opts.procs:
                        for round_no in range(opts.rounds):
                            # Alternate: ours, the baseline, ours, ... so a
                            # slow drift of the machine hits both alike.
                            for sname in names:
                                r = group.run(servers[sname], workload, procs, opts, tmp, round_no, profiler)
                                results.append(r)
                                extra = "".join(f"  {k}/op {v:.2f}" for k, v in r.extra.items())
                                if r.errors:
                                    extra += f"  ERRORS {r.errors} (first: {r.first_error})"
                                print(
                                    f"  {gname}/{workload}/{procs}p round {round_no + 1} {sname:<8}"
                                    f" {r.throughput:>9.0f} ops/s  p50 {r.p50_us:>9.1f} us"
                                    f"  p99 {r.p99_us:>9.1f} us  cpu/op {r.cpu_per_op_us:>8.1f} us{extra}",
                                    flush=True,
                                )
            finally:
                for s in servers.values():
                    s.stop()
            rows = summarize(results, group)
            print(f"\n## group {gname}: {' vs '.join(group.servers)}\n")
            print_table(rows, group)
            all_results += results
            summaries[gname] = rows
    # Other work on the machine skews wall-clock figures (CPU per op much
    # less): say how busy it was.
    print(f"\n# total {time.monotonic() - started:.0f} s; load average at the end {os.getloadavg()[0]:.2f}")
    if opts.json:
        opts.json.write_text(
            json.dumps(
                {
                    "machine": _servers.machine(),
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
