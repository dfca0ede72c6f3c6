//! Throughput and latency of the Rust client against a manager, for the
//! operations `redis-benchmark` measures on Redis (issue 6): the driver
//! `tests/bench/native/run.py` runs this and `redis-benchmark` side by
//! side and compares them.
//!
//! ```text
//! MPCLUSTER_AUTHKEY=secret cargo run --release -p mpcluster --example bench_native -- \
//!     --addr 127.0.0.1:50000 --workload hset --connections 50 --inflight 16 --ops 1000000
//! ```
//!
//! Workloads, and the Redis command each stands for:
//!
//! | workload | our call | Redis |
//! |---|---|---|
//! | `hset` | `d[key] = data` on a shared dict (`__setitem__`) | `HSET myhash element:__rand_int__ data` |
//! | `hget` | `d[key]` on a dict holding every key (`__getitem__`) | `HGET myhash element:__rand_int__` |
//! | `rpush` | `q.put(data)` on an unbounded `Queue` | `RPUSH mylist data` |
//! | `lpop` | `q.get_nowait()` on a queue holding enough items | `LPOP mylist` |
//! | `incr` | `v.set(n)` on a shared `Value`, `n` counted by the client | `INCR counter` |
//!
//! `incr` is not atomic here: the manager protocol has no increment (a
//! CPython client writes `v.value += 1`, a `get` then a `set`). `set` of a
//! client-held counter is the one-request equivalent; it is only the same
//! operation as `INCR` when one client owns the counter.
//!
//! `--connections C` runs C tasks, each on its own pooled serving
//! connection (opened before the clock starts); `--inflight 1` sends one
//! call at a time through the typed proxies, `--inflight P` sends batches
//! of P calls through a [`mpcluster::Pipeline`] (write P, then read P, as
//! `redis-benchmark -P` does). Latency is per call when unpipelined and
//! per batch round trip when pipelined. Keys are `element:` and a random
//! 12-digit number below `--keyspace`, as `redis-benchmark -r` makes them;
//! data is `--data-size` bytes of `x` (`-d`).
//!
//! Prints one line `RESULT key=value ...` (or JSON with `--json`).

use mpcluster::{BarrierProxy, DictProxy, Manager, Pipeline, Proxy, QueueProxy, Value, ValueProxy};

use std::process::ExitCode;

/// The allocator a Rust service would pick for many small short-lived
/// values; the library itself leaves that choice to the application.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::sync::Arc;
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Workload {
    Hset,
    Hget,
    Rpush,
    Lpop,
    Incr,
}

impl Workload {
    fn parse(s: &str) -> Option<Workload> {
        Some(match s {
            "hset" => Workload::Hset,
            "hget" => Workload::Hget,
            "rpush" => Workload::Rpush,
            "lpop" => Workload::Lpop,
            "incr" => Workload::Incr,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Workload::Hset => "hset",
            Workload::Hget => "hget",
            Workload::Rpush => "rpush",
            Workload::Lpop => "lpop",
            Workload::Incr => "incr",
        }
    }
}

#[derive(Clone, Debug)]
struct Opts {
    addr: String,
    authkey: String,
    workload: Workload,
    connections: usize,
    inflight: usize,
    ops: u64,
    keyspace: u64,
    data_size: usize,
    json: bool,
    /// Give the manager its own I/O runtime instead of this one.
    own_runtime: bool,
}

const USAGE: &str = "usage: bench_native --addr HOST:PORT [--workload hset|hget|rpush|lpop|incr] \
[--connections C] [--inflight P] [--ops N] [--keyspace K] [--data-size D] [--authkey KEY] [--json] [--own-runtime]
(the authkey defaults to $MPCLUSTER_AUTHKEY)";

fn parse_opts() -> Result<Opts, BoxError> {
    let mut o = Opts {
        addr: String::new(),
        authkey: std::env::var("MPCLUSTER_AUTHKEY").unwrap_or_default(),
        workload: Workload::Hset,
        connections: 1,
        inflight: 1,
        ops: 100_000,
        keyspace: 100_000,
        data_size: 3,
        json: false,
        own_runtime: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--json" {
            o.json = true;
            continue;
        }
        if flag == "--own-runtime" {
            o.own_runtime = true;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.into());
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--addr" => o.addr = value,
            "--authkey" => o.authkey = value,
            "--workload" => {
                o.workload = Workload::parse(&value)
                    .ok_or_else(|| format!("unknown workload {value:?}\n{USAGE}"))?
            }
            "--connections" => o.connections = value.parse()?,
            "--inflight" => o.inflight = value.parse()?,
            "--ops" => o.ops = value.parse()?,
            "--keyspace" => o.keyspace = value.parse()?,
            "--data-size" => o.data_size = value.parse()?,
            _ => return Err(format!("unknown flag {flag}\n{USAGE}").into()),
        }
    }
    if o.addr.is_empty() {
        return Err(format!("--addr is required\n{USAGE}").into());
    }
    if o.authkey.is_empty() {
        return Err("set MPCLUSTER_AUTHKEY or pass --authkey".into());
    }
    if o.connections == 0 || o.inflight == 0 || o.keyspace == 0 {
        return Err("--connections, --inflight and --keyspace must be at least 1".into());
    }
    Ok(o)
}

/// SplitMix64: a fast, good-enough generator for random keys (no crate
/// needed for this).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// `redis-benchmark`'s `element:__rand_int__` with `-r`: 12 digits.
fn key(n: u64) -> String {
    // Digits written directly: `format!` was 5 % of this client's CPU,
    // where redis-benchmark rewrites the digits of its command in place.
    if n >= 1_000_000_000_000 {
        return format!("element:{n:012}");
    }
    let mut digits = [b'0'; 12];
    let mut rest = n;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    let mut k = String::with_capacity(20);
    k.push_str("element:");
    k.extend(digits.iter().map(|&d| char::from(d)));
    k
}

/// The shared objects of one run.
struct Target {
    dict: DictProxy<String, String>,
    queue: QueueProxy<String>,
    value: ValueProxy<i64>,
}

/// Fills `count` calls made by `make` through pipelines of 1000.
async fn fill(
    m: &Manager,
    proxy: &impl Proxy,
    method: &str,
    count: u64,
    make: impl Fn(u64) -> Vec<Value>,
) -> Result<(), BoxError> {
    let mut pipe = m.pipeline();
    for i in 0..count {
        pipe.call(proxy, method, make(i));
        if pipe.len() == 1000 || i + 1 == count {
            for r in pipe.run().await? {
                r?;
            }
        }
    }
    Ok(())
}

async fn setup(m: &Manager, o: &Opts, data: &str) -> Result<Target, BoxError> {
    let t = Target {
        dict: m.dict::<String, String>(&[]).await?,
        queue: m.queue::<String>(0).await?,
        value: m.value("i", &0_i64).await?,
    };
    match o.workload {
        // Every key exists, as after the driver fills Redis's hash.
        Workload::Hget => {
            fill(m, &t.dict, "__setitem__", o.keyspace, |i| {
                vec![Value::from(key(i)), Value::from(data)]
            })
            .await?
        }
        // One item per pop, so no `get_nowait` meets an empty queue.
        Workload::Lpop => {
            fill(m, &t.queue, "put", o.ops, |_| vec![Value::from(data)]).await?;
        }
        _ => {}
    }
    Ok(t)
}

/// One unpipelined call through the typed proxies.
async fn one_call(
    t: &Target,
    o: &Opts,
    rng: &mut Rng,
    counter: &mut i64,
    data: &str,
) -> Result<(), BoxError> {
    match o.workload {
        Workload::Hset => {
            let k = key(rng.next() % o.keyspace);
            t.dict.insert(&k, &data.to_string()).await?;
        }
        Workload::Hget => {
            let k = key(rng.next() % o.keyspace);
            t.dict.get(&k).await?.ok_or("hget: missing key")?;
        }
        Workload::Rpush => t.queue.put(&data.to_string()).await?,
        Workload::Lpop => {
            t.queue.get_nowait().await?;
        }
        Workload::Incr => {
            *counter += 1;
            t.value.set(counter).await?;
        }
    }
    Ok(())
}

/// Adds one call of the workload to a pipeline.
fn add_call(
    pipe: &mut Pipeline,
    t: &Target,
    o: &Opts,
    rng: &mut Rng,
    counter: &mut i64,
    data: &str,
) {
    match o.workload {
        Workload::Hset => {
            let k = key(rng.next() % o.keyspace);
            pipe.call(
                &t.dict,
                "__setitem__",
                vec![Value::from(k), Value::from(data)],
            );
        }
        Workload::Hget => {
            let k = key(rng.next() % o.keyspace);
            pipe.call(&t.dict, "__getitem__", vec![Value::from(k)]);
        }
        Workload::Rpush => {
            pipe.call(&t.queue, "put", vec![Value::from(data)]);
        }
        Workload::Lpop => {
            pipe.call(&t.queue, "get_nowait", vec![]);
        }
        Workload::Incr => {
            *counter += 1;
            pipe.call(&t.value, "set", vec![Value::Int(*counter)]);
        }
    }
}

/// One connection's share of the run: `ops` calls; the latency of each
/// call (or batch) in microseconds.
async fn worker(
    m: Manager,
    t: Arc<Target>,
    o: Arc<Opts>,
    seed: u64,
    ops: u64,
    warm: BarrierProxy,
    start: Arc<tokio::sync::Barrier>,
) -> Result<Vec<u32>, BoxError> {
    let data = "x".repeat(o.data_size);
    let mut rng = Rng(seed);
    let mut counter = 0_i64;
    let mut lat = Vec::with_capacity((ops / o.inflight as u64 + 1) as usize);
    // Warm-up: every worker waits on one server-side barrier, so each
    // holds a serving connection at the same moment and the pool keeps
    // one per worker before the clock starts.
    warm.wait_timeout(Duration::from_secs(60)).await?;
    start.wait().await;
    let mut done = 0;
    if o.inflight == 1 {
        while done < ops {
            let began = Instant::now();
            one_call(&t, &o, &mut rng, &mut counter, &data).await?;
            lat.push(micros(began.elapsed()));
            done += 1;
        }
        return Ok(lat);
    }
    let mut pipe = m.pipeline();
    while done < ops {
        let n = (ops - done).min(o.inflight as u64);
        for _ in 0..n {
            add_call(&mut pipe, &t, &o, &mut rng, &mut counter, &data);
        }
        let began = Instant::now();
        for r in pipe.run().await? {
            r?;
        }
        lat.push(micros(began.elapsed()));
        done += n;
    }
    Ok(lat)
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// The value at `q` (0..=1) of sorted samples.
fn quantile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted.get(i).copied().unwrap_or(0)
}

async fn run(o: Opts) -> Result<(), BoxError> {
    let mut builder = Manager::builder(o.addr.as_str(), o.authkey.as_bytes())
        .max_idle_connections(o.connections + 4);
    if !o.own_runtime {
        // One event loop for every connection, as redis-benchmark has.
        builder = builder.runtime(tokio::runtime::Handle::current());
    }
    let m = builder.connect().await?;
    let data = "x".repeat(o.data_size);
    let t = Arc::new(setup(&m, &o, &data).await?);
    let o = Arc::new(o);
    let c = o.connections as u64;
    // Workers and the main task meet at the barrier once warmed up.
    let warm = m.barrier(o.connections, None).await?;
    let start = Arc::new(tokio::sync::Barrier::new(o.connections + 1));
    let mut tasks = Vec::new();
    for i in 0..c {
        let share = o.ops / c + u64::from(i < o.ops % c);
        tasks.push(tokio::spawn(worker(
            m.clone(),
            t.clone(),
            o.clone(),
            0x5EED ^ (i + 1).wrapping_mul(0x9E37_79B9),
            share,
            warm.clone(),
            start.clone(),
        )));
    }
    start.wait().await;
    let began = Instant::now();
    let mut lat = Vec::new();
    for task in tasks {
        lat.extend(task.await??);
    }
    let secs = began.elapsed().as_secs_f64();
    lat.sort_unstable();
    let ops_per_sec = o.ops as f64 / secs;
    let (p50, p99) = (quantile(&lat, 0.50), quantile(&lat, 0.99));
    if o.json {
        println!(
            "{}",
            serde_json::json!({
                "workload": o.workload.name(), "connections": o.connections,
                "inflight": o.inflight, "ops": o.ops, "secs": secs,
                "ops_per_sec": ops_per_sec, "p50_us": p50, "p99_us": p99,
            })
        );
    } else {
        println!(
            "RESULT workload={} connections={} inflight={} ops={} secs={secs:.3} \
             ops_per_sec={ops_per_sec:.0} p50_us={p50} p99_us={p99}",
            o.workload.name(),
            o.connections,
            o.inflight,
            o.ops
        );
    }
    drop((t, warm));
    m.flush().await?;
    Ok(())
}

fn main() -> ExitCode {
    let opts = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bench_native: {e}");
            return ExitCode::from(2);
        }
    };
    // One thread: the manager's connections run on this runtime (unless
    // `--own-runtime`), like redis-benchmark's single event loop, and the
    // other core is left to the server.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench_native: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_native: {e}");
            ExitCode::FAILURE
        }
    }
}
