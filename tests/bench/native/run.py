#!/usr/bin/env python3
"""Native client workloads against our manager, and Redis in the same run.

Issue 6, item 2: the Rust client (``services/client/examples/bench_native.rs``)
drives our release ``mpcluster-manager``; ``redis-benchmark`` drives Debian's
``redis-server`` with the equivalent commands. Both servers run on loopback
ports of their own, started and stopped here. For every workload and every
(connections, requests in flight) pair the two systems run alternately
(ours, redis, ours, redis, ...) with the same number of operations, and the
median round of each is reported with the ratio ours / redis.

    python3 tests/bench/native/run.py            # full run, ~10 minutes
    python3 tests/bench/native/run.py --quick    # ~1-2 minutes
    python3 tests/bench/native/run.py --workloads hset,hget --rounds 1

The equivalences (see the example's docs for details):

    hset   d[key] = data          HSET myhash element:__rand_int__ data
    hget   d[key] (all keys set)  HGET myhash element:__rand_int__
    rpush  q.put(data)            RPUSH mylist data
    lpop   q.get_nowait()         LPOP mylist            (list pre-filled)
    incr   v.set(n), n local      INCR counter           (not atomic here)

"16 in flight" is a batch of 16 requests written before their replies are
read, on each connection: our ``Pipeline`` and ``redis-benchmark -P 16`` do
the same thing. Latency: per call unpipelined; per batch pipelined for ours,
redis-benchmark's own per-request figures for Redis.

Not a CI test: it needs a quiet machine. It builds with
``cargo build --release`` under ``flock /tmp/cargo.lock`` when ``flock`` is
there (the shared build lock of this project's machines); ``--no-build``
skips that. It installs ``redis-server`` and ``redis-tools`` with apt-get
when they are missing and it runs as root.
"""

import argparse
import datetime
import json
import os
import platform
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"
WORKLOADS = ["hset", "hget", "rpush", "lpop", "incr"]
# (connections, in flight) -> operations per run in a full run. Sized so
# each run takes a few seconds on a 2-core machine.
SIZES = {(1, 1): 30_000, (50, 1): 150_000, (1, 16): 200_000, (50, 16): 600_000}
KEYSPACE = 100_000
DATA = "xxx"  # redis-benchmark's default -d 3

REDIS_COMMANDS = {
    "hset": ["HSET", "myhash", "element:__rand_int__", DATA],
    "hget": ["HGET", "myhash", "element:__rand_int__"],
    "rpush": ["RPUSH", "mylist", DATA],
    "lpop": ["LPOP", "mylist"],
    "incr": ["INCR", "counter"],
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build():
    cmd = ["cargo", "build", "--release", "-p", "mpcluster-manager", "-p", "mpcluster",
           "--bins", "--examples"]
    if shutil.which("flock"):
        cmd = ["flock", "/tmp/cargo.lock"] + cmd
    log("$ " + " ".join(cmd))
    subprocess.run(cmd, cwd=ROOT, check=True)


def ensure_redis():
    if shutil.which("redis-server") and shutil.which("redis-benchmark"):
        return
    if os.geteuid() != 0:
        sys.exit("redis-server / redis-benchmark missing: apt-get install redis-server redis-tools")
    log("installing redis-server and redis-tools")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", "redis-server", "redis-tools"]
    if subprocess.run(install, env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
        subprocess.run(install, env=env, check=True)


def stop_process(proc):
    """Terminates a server we started (kills it if it does not exit)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


class Redis:
    def __init__(self):
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while self.cli("PING").strip() != "PONG":
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def cli(self, *args, stdin=None):
        r = subprocess.run(["redis-cli", "-p", str(self.port), *args], input=stdin,
                           capture_output=True)
        return r.stdout.decode(errors="replace")

    def pipe(self, commands):
        """Sends commands (lists of str) through `redis-cli --pipe`."""
        out = []
        for cmd in commands:
            out.append(f"*{len(cmd)}\r\n")
            for a in cmd:
                out.append(f"${len(a.encode())}\r\n{a}\r\n")
        r = subprocess.run(["redis-cli", "-p", str(self.port), "--pipe"],
                           input="".join(out).encode(), capture_output=True)
        if r.returncode != 0:
            raise RuntimeError(f"redis-cli --pipe failed: {r.stderr.decode()}")

    def prepare(self, workload, ops):
        """Matches the state our bench sets up: a full hash, a list holding
        one item per pop."""
        if workload == "hget" and self.cli("HLEN", "myhash").strip() != str(KEYSPACE):
            self.cli("DEL", "myhash")
            self.pipe([["HSET", "myhash"] + [x for i in range(s, min(s + 1000, KEYSPACE))
                                              for x in (f"element:{i:012d}", DATA)]
                       for s in range(0, KEYSPACE, 1000)])
        if workload == "lpop":
            self.cli("DEL", "mylist")
            self.pipe([["RPUSH", "mylist"] + [DATA] * min(1000, ops - s)
                       for s in range(0, ops, 1000)])

    def run(self, workload, conns, inflight, ops):
        self.prepare(workload, ops)
        cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(self.port), "-c", str(conns),
               "-n", str(ops), "-P", str(inflight), "-r", str(KEYSPACE), "--csv",
               *REDIS_COMMANDS[workload]]
        r = subprocess.run(cmd, capture_output=True, text=True, check=True)
        # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",...,"p99_latency_ms",...
        rows = [line for line in r.stdout.splitlines() if line and not line.startswith('"test"')]
        if not rows:
            raise RuntimeError(f"redis-benchmark printed no result: {r.stdout!r} {r.stderr!r}")
        cols = [c.strip('"') for c in rows[-1].split('","')]
        return {"ops_per_sec": float(cols[1]), "p50_us": float(cols[4]) * 1000,
                "p99_us": float(cols[6]) * 1000, "cmd": " ".join(cmd)}

    def stop(self):
        stop_process(self.proc)


class Ours:
    def __init__(self, workers=None):
        self.authkey = secrets.token_hex(16)
        env = dict(os.environ, MPCLUSTER_AUTHKEY=self.authkey,
                   MPCLUSTER_ADMIN_TOKEN=secrets.token_hex(16))
        self.proc = subprocess.Popen(
            [str(TARGET / "mpcluster-manager"), "--bind", "127.0.0.1:0",
             "--admin-bind", "127.0.0.1:0", "--log", "warn",
             *(["--workers", str(workers)] if workers else [])],
            stdout=subprocess.PIPE, text=True, env=env)
        for line in self.proc.stdout:
            if line.startswith("mpcluster-manager listening on "):
                self.addr = line.split()[-1]
                break
        else:
            raise RuntimeError("mpcluster-manager exited before listening")

    def run(self, workload, conns, inflight, ops):
        cmd = [str(TARGET / "examples" / "bench_native"), "--addr", self.addr,
               "--workload", workload, "--connections", str(conns),
               "--inflight", str(inflight), "--ops", str(ops),
               "--keyspace", str(KEYSPACE), "--data-size", str(len(DATA)), "--json"]
        r = subprocess.run(cmd, capture_output=True, text=True,
                           env=dict(os.environ, MPCLUSTER_AUTHKEY=self.authkey))
        if r.returncode != 0:
            raise RuntimeError(f"bench_native failed: {r.stderr}")
        out = json.loads(r.stdout.strip().splitlines()[-1])
        shown = " ".join(c if "/" not in c else Path(c).name for c in cmd)
        return {"ops_per_sec": out["ops_per_sec"], "p50_us": out["p50_us"],
                "p99_us": out["p99_us"], "cmd": shown}

    def stop(self):
        stop_process(self.proc)


def median_run(runs):
    """The run with the median throughput (its latencies go with it)."""
    ordered = sorted(runs, key=lambda r: r["ops_per_sec"])
    return ordered[(len(ordered) - 1) // 2]


def machine():
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    redis = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                         capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
        "redis": redis.split(" sha=")[0].strip(),
        "commit": rev + ("+local changes" if dirty else ""),
    }


def target_of(conns, inflight):
    if conns == 50 and inflight == 1:
        return 1.0
    if inflight > 1:
        return 0.5
    return None


def table(results, info, argv):
    lines = [
        f"Measured {info['date']} on {info['cpu']} ({info['cores']} cores), Linux {info['kernel']}, "
        f"{info['redis']}, mpcluster {info['commit']}.",
        f"Command: `python3 tests/bench/native/run.py {' '.join(argv)}`".rstrip() + "",
        "",
        "| workload | conns | in flight | ours ops/s | Redis ops/s | ours / Redis | target "
        "| ours p50 / p99 µs | Redis p50 / p99 µs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        o, x = r["ours"], r["redis"]
        ratio = o["ops_per_sec"] / x["ops_per_sec"]
        tgt = target_of(r["connections"], r["inflight"])
        mark = "" if tgt is None else f"≥ {tgt:g}" + (" ✓" if ratio >= tgt else " ✗")
        lines.append(
            f"| {r['workload']} | {r['connections']} | {r['inflight']} "
            f"| {o['ops_per_sec']:,.0f} | {x['ops_per_sec']:,.0f} | {ratio:.2f} | {mark} "
            f"| {o['p50_us']:.0f} / {o['p99_us']:.0f} | {x['p50_us']:.0f} / {x['p99_us']:.0f} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer operations, one round (~1-2 min)")
    ap.add_argument("--rounds", type=int, help="alternating rounds per system (default 3, quick 1)")
    ap.add_argument("--scale", type=float, help="multiplies the operation counts")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--connections", default="1,50")
    ap.add_argument("--inflight", default="1,16")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--workers", type=int, help="our server's --workers (default: its own, one per CPU)")
    ap.add_argument("--json", type=Path, help="also write every run's figures here")
    args = ap.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    scale = args.scale or (0.15 if args.quick else 1.0)
    workloads = [w for w in args.workloads.split(",") if w]
    unknown = set(workloads) - set(WORKLOADS)
    if unknown:
        sys.exit(f"unknown workloads: {sorted(unknown)}")
    pairs = [(int(c), int(p)) for c in args.connections.split(",") for p in args.inflight.split(",")]

    if not args.no_build:
        build()
    ensure_redis()
    info = machine()
    ours = redis = None
    results = []
    try:
        redis = Redis()
        ours = Ours(args.workers)
        log(f"ours on {ours.addr}, redis on 127.0.0.1:{redis.port}")
        for workload in workloads:
            for conns, inflight in pairs:
                base = SIZES.get((conns, inflight), 200_000)
                ops = max(1000, int(base * scale))
                runs = {"ours": [], "redis": []}
                for _ in range(rounds):
                    runs["ours"].append(ours.run(workload, conns, inflight, ops))
                    runs["redis"].append(redis.run(workload, conns, inflight, ops))
                row = {"workload": workload, "connections": conns, "inflight": inflight,
                       "ops": ops, "ours": median_run(runs["ours"]),
                       "redis": median_run(runs["redis"]), "runs": runs}
                results.append(row)
                log(f"{workload:6} c={conns:<3} P={inflight:<3} n={ops:<8} "
                    f"ours {row['ours']['ops_per_sec']:>10,.0f}/s  "
                    f"redis {row['redis']['ops_per_sec']:>10,.0f}/s  "
                    f"ratio {row['ours']['ops_per_sec'] / row['redis']['ops_per_sec']:.2f}")
    finally:
        for s in (ours, redis):
            if s is not None:
                s.stop()
    print(table(results, info, sys.argv[1:]))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "results": results}, indent=1))


if __name__ == "__main__":
    main()
