//! `--max-memory`: what the process has allocated, and the refusal of
//! calls that would store more once that passes the limit.
//!
//! [`CountingAlloc`] wraps the global allocator (`main.rs`) and keeps one
//! counter of the bytes currently allocated, the way Redis's `used_memory`
//! comes from its allocator: exact, cheap to read, and independent of what
//! the allocator keeps cached. [`MemoryLimit::check`] is asked before every
//! call that stores data (a `create`, and the methods [`stores_data`]
//! names); past the limit such a call fails with the `MemoryError` a
//! CPython client sees from a server out of memory, and nothing is stored.
//! Reads, deletes and every other call go on, so clients can make room.
//! Unlike Redis's `maxmemory`, nothing is evicted: a manager's objects are
//! other programs' state, not a cache.

use crate::pyexc::{ExcKind, PyException};
use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// A global allocator that counts the bytes allocated through it.
pub struct CountingAlloc<A>(pub A);

// SAFETY: every method forwards to the inner allocator unchanged; the
// counters are plain atomics and never affect what is returned.
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAlloc<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = self.0.alloc(layout);
        if !p.is_null() {
            ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = self.0.alloc_zeroed(layout);
        if !p.is_null() {
            ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.0.dealloc(ptr, layout);
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = self.0.realloc(ptr, layout, new_size);
        if !p.is_null() {
            if new_size >= layout.size() {
                ALLOCATED.fetch_add(new_size - layout.size(), Ordering::Relaxed);
            } else {
                ALLOCATED.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

/// Marks the counting allocator as the process's global allocator; `main`
/// calls it first thing. Without it (library use, tests in process) the
/// count means nothing and no limit is enforced.
pub fn installed() {
    INSTALLED.store(true, Ordering::Relaxed);
}

/// Bytes allocated now, when the counting allocator is installed.
pub fn allocated() -> Option<usize> {
    INSTALLED
        .load(Ordering::Relaxed)
        .then(|| ALLOCATED.load(Ordering::Relaxed))
}

/// Whether `method` of an object of `typeid` stores data in it (so is
/// refused past the limit). Everything else (reads, deletes, pops, waits,
/// `Event.set`) is always served: those are how clients make room again.
pub fn stores_data(typeid: &str, method: &str) -> bool {
    if method == "set" {
        // `Value.set(x)` replaces the value; `Event.set()` stores nothing.
        return typeid == "Value";
    }
    matches!(
        method,
        "append"
            | "extend"
            | "insert"
            | "__setitem__"
            | "__iadd__"
            | "__imul__"
            | "__ior__"
            | "update"
            | "setdefault"
            | "add"
            | "symmetric_difference_update"
            | "__ixor__"
            | "put"
            | "put_nowait"
            | "__setattr__"
    )
}

/// The environment variable that turns mimalloc's eager arena commit off.
const EAGER_COMMIT_ENV: &str = "MIMALLOC_ARENA_EAGER_COMMIT";

/// Sets the allocator up to give memory back: arenas committed as they
/// are used rather than up front. mimalloc reads this option once, when it
/// starts (before `main`), so when the variable is unset the process
/// starts itself again with it set to 0 (an `exec`: same pid, same
/// arguments, nothing running yet). Measured with a manager holding a list
/// of 1,000,000 `None`s (8.5 MB allocated): 16 MB resident with eager
/// commit, 11 MB without; an operator's own setting of the variable is
/// kept.
pub fn configure_allocator() {
    if std::env::var_os(EAGER_COMMIT_ENV).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let argv0 = args.next();
    let mut cmd = std::process::Command::new(exe);
    cmd.args(args).env(EAGER_COMMIT_ENV, "0");
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        if let Some(a) = argv0 {
            cmd.arg0(a);
        }
        // Returns only on failure, and then the process goes on as is.
        let _ = cmd.exec();
    }
    #[cfg(not(unix))]
    let _ = (cmd, argv0);
}

/// How often freed memory is handed back to the system.
const GIVE_BACK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Hands memory the program freed back to the system, once a second,
/// until `stop`. mimalloc (the global allocator, `main.rs`) delays giving
/// back freed pages so that a busy server reuses them, and does the
/// delayed work only when it allocates again: a manager that filled a
/// list and went idle kept twice the list's size resident (88 bytes per
/// item of a 1,000,000-`None` list, 41 allocated, before lists were
/// packed). A forced collection also returns what the serving thread
/// keeps cached (packed list of 1,000,000 `None`s: 11.1 bytes an item
/// resident with a plain one, 9.8 forced).
pub async fn give_back_freed(stop: tokio_util::sync::CancellationToken) {
    let mut tick = tokio::time::interval(GIVE_BACK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        // SAFETY: `mi_collect` only walks mimalloc's own structures; it is
        // safe to call from any thread at any time.
        unsafe { libmimalloc_sys::mi_collect(true) };
    }
}

/// The configured limit, resolved to bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLimit {
    /// `None`: unlimited (`--max-memory 0`).
    pub bytes: Option<u64>,
}

impl MemoryLimit {
    /// `Ok` while the process may store more; the `MemoryError` for the
    /// client otherwise.
    pub fn check(&self) -> Result<(), PyException> {
        let (Some(limit), Some(used)) = (self.bytes, allocated()) else {
            return Ok(());
        };
        if used as u64 <= limit {
            return Ok(());
        }
        Err(PyException::msg(
            ExcKind::MemoryError,
            format!(
                "the manager is using {used} bytes, over its --max-memory of {limit} bytes; \
                 nothing was stored (delete or read out data to make room)"
            ),
        ))
    }
}

/// Resolves `--max-memory` against what the host (or container) has,
/// logging the figure once; `0` (or an unknown total for a percentage)
/// means no limit.
pub fn resolve_limit(spec: SizeSpec) -> MemoryLimit {
    let available = available_memory();
    let bytes = match (spec, available) {
        (SizeSpec::Percent(_), None) => {
            tracing::warn!(%spec, "cannot read the memory available; --max-memory not enforced");
            None
        }
        (spec, available) => Some(spec.resolve(available.unwrap_or(0))).filter(|&b| b > 0),
    };
    match bytes {
        Some(b) => tracing::info!(
            limit = b,
            available = available.unwrap_or(0),
            "--max-memory {spec}: calls that store data are refused past {} MiB",
            b >> 20
        ),
        None => tracing::info!("--max-memory: no limit"),
    }
    MemoryLimit { bytes }
}

/// A `--max-memory` or `--max-pending-reply-bytes` value as given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SizeSpec {
    Bytes(u64),
    /// A share of the memory this process may use (host or container).
    Percent(f64),
}

impl SizeSpec {
    /// Bytes, with percentages taken of `available`.
    pub fn resolve(self, available: u64) -> u64 {
        match self {
            SizeSpec::Bytes(b) => b,
            SizeSpec::Percent(p) => (available as f64 * p / 100.0) as u64,
        }
    }
}

impl std::fmt::Display for SizeSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SizeSpec::Bytes(b) => write!(f, "{b}"),
            SizeSpec::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// `1048576`, `64MiB`, `2GB`, `512k`, or `50%`. Units are powers of 1024
/// whether spelled `KiB`, `KB` or `k` (Redis reads `1gb` the same way).
pub fn parse_size(s: &str) -> Result<SizeSpec, String> {
    let t = s.trim();
    if let Some(p) = t.strip_suffix('%') {
        let p: f64 = p
            .trim()
            .parse()
            .map_err(|_| format!("not a percentage: {s:?}"))?;
        if !(0.0..=100.0).contains(&p) || p.is_nan() {
            return Err(format!("percentage out of range 0-100: {s:?}"));
        }
        return Ok(SizeSpec::Percent(p));
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("not a size: {s:?} (try 64MiB, 2GB, 50%)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => {
            return Err(format!(
                "unknown size unit {other:?} in {s:?}: use KiB, MiB, GiB or %"
            ))
        }
    };
    let bytes = n * mult as f64;
    if !(0.0..1.8e19).contains(&bytes) {
        return Err(format!("size out of range: {s:?}"));
    }
    Ok(SizeSpec::Bytes(bytes as u64))
}

/// Memory this process may use: the host's, or its container's (cgroup
/// v2 `memory.max`, v1 `memory.limit_in_bytes`) when that is lower.
pub fn available_memory() -> Option<u64> {
    let host = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| meminfo_total(&m));
    let cgroup = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .filter_map(|p| std::fs::read_to_string(p).ok())
    .filter_map(|s| s.trim().parse::<u64>().ok())
    .min();
    match (host, cgroup) {
        (Some(h), Some(c)) => Some(h.min(c)),
        (h, c) => h.or(c),
    }
}

fn meminfo_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("64MiB"), Ok(SizeSpec::Bytes(64 << 20)));
        assert_eq!(parse_size("2gb"), Ok(SizeSpec::Bytes(2 << 30)));
        assert_eq!(parse_size("512k"), Ok(SizeSpec::Bytes(512 << 10)));
        assert_eq!(parse_size("1000"), Ok(SizeSpec::Bytes(1000)));
        assert_eq!(parse_size("50%"), Ok(SizeSpec::Percent(50.0)));
        assert!(parse_size("150%").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("").is_err());
        assert_eq!(SizeSpec::Percent(50.0).resolve(1000), 500);
    }

    #[test]
    fn meminfo_total_is_read_in_bytes() {
        let m = "MemTotal:       24576000 kB\nMemFree:        1 kB\n";
        assert_eq!(meminfo_total(m), Some(24_576_000 * 1024));
    }

    #[test]
    fn only_storing_methods_are_gated() {
        for m in ["append", "__setitem__", "put", "update", "__setattr__"] {
            assert!(stores_data("list", m), "{m}");
        }
        for m in [
            "__getitem__",
            "pop",
            "__delitem__",
            "get",
            "copy",
            "clear",
            "remove",
        ] {
            assert!(!stores_data("list", m), "{m}");
        }
        assert!(stores_data("Value", "set"));
        assert!(!stores_data("Event", "set"));
    }

    #[test]
    fn no_limit_without_the_counting_allocator() {
        // Unit tests run on the default allocator: nothing is counted, so
        // even a limit of 0 bytes refuses nothing.
        assert!(MemoryLimit { bytes: Some(0) }.check().is_ok());
    }
}
