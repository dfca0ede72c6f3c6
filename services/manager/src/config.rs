//! Configuration: one `clap` struct, each flag with an `MPCLUSTER_*`
//! environment fallback and a default a newcomer can run; named objects come
//! from a TOML file. `mpcluster-manager --help` is the reference.

use clap::Parser;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use thiserror::Error;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "mpcluster-manager",
    version,
    about = "A manager server for CPython multiprocessing clients (SyncManager, BaseManager.register)",
    long_about = None
)]
pub struct Config {
    /// Address the data port listens on.
    #[arg(long, env = "MPCLUSTER_BIND", default_value = "127.0.0.1:50000")]
    pub bind: SocketAddr,

    /// Address written into tokens (what clients use to reach this
    /// manager); defaults to the bound address.
    #[arg(long, env = "MPCLUSTER_ADVERTISE")]
    pub advertise: Option<String>,

    /// The authkey clients must know. Prefer MPCLUSTER_AUTHKEY or
    /// --authkey-file: a flag shows up in `ps`.
    #[arg(long, env = "MPCLUSTER_AUTHKEY", hide_env_values = true)]
    pub authkey: Option<String>,

    /// File holding the authkey (its bytes, a trailing newline removed).
    #[arg(long, env = "MPCLUSTER_AUTHKEY_FILE")]
    pub authkey_file: Option<PathBuf>,

    /// TOML file declaring named objects (see the README).
    #[arg(long, env = "MPCLUSTER_CONFIG")]
    pub config: Option<PathBuf>,

    /// Log filter (tracing's env-filter syntax).
    #[arg(long, env = "MPCLUSTER_LOG", default_value = "info")]
    pub log: String,

    /// Largest message accepted from a client, in bytes.
    #[arg(long, env = "MPCLUSTER_MAX_FRAME", default_value_t = 64 * 1024 * 1024)]
    pub max_frame: usize,

    /// Deepest nesting accepted in a request's pickle.
    #[arg(long, env = "MPCLUSTER_MAX_PICKLE_DEPTH", default_value_t = 1000)]
    pub max_pickle_depth: usize,

    /// Most values one request may decode to.
    #[arg(
        long,
        env = "MPCLUSTER_MAX_PICKLE_VALUES",
        default_value_t = 10_000_000
    )]
    pub max_pickle_values: usize,

    /// Most connections served at once; more are closed at accept. The
    /// default is what the host's hard open-file limit leaves room for
    /// (beside --admin-max-connections' default), so it never outgrows the
    /// host; a larger value is warned about at start.
    #[arg(
        long,
        env = "MPCLUSTER_MAX_CONNECTIONS",
        default_value_t = crate::fdlimit::default_max_connections()
    )]
    pub max_connections: usize,

    /// Most objects held at once; `create` beyond it fails.
    #[arg(long, env = "MPCLUSTER_MAX_OBJECTS", default_value_t = 10_000_000)]
    pub max_objects: usize,

    /// Time a client has to complete the authkey handshake.
    #[arg(long, env = "MPCLUSTER_HANDSHAKE_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub handshake_timeout: Duration,

    /// Refuse HMAC-MD5 handshakes (breaks CPython <= 3.11 clients).
    #[arg(long, env = "MPCLUSTER_REFUSE_MD5")]
    pub refuse_md5: bool,

    /// Let clients stop the server with the `shutdown` request.
    #[arg(long, env = "MPCLUSTER_ALLOW_REMOTE_SHUTDOWN")]
    pub allow_remote_shutdown: bool,

    /// Dispose of orphan candidates idle this long (e.g. `10m`); off by
    /// default, since a live client may hold a proxy it has not used.
    #[arg(long, env = "MPCLUSTER_REAP_ORPHANS_AFTER", value_parser = parse_duration)]
    pub reap_orphans_after: Option<Duration>,

    /// Address the admin surface (HTTP API, web page, metrics and gRPC on
    /// one port) listens on; port 0 picks a free one.
    #[arg(long, env = "MPCLUSTER_ADMIN_BIND", default_value = "127.0.0.1:50080")]
    pub admin_bind: SocketAddr,

    /// Bearer token admin requests must carry. Prefer MPCLUSTER_ADMIN_TOKEN
    /// or --admin-token-file; generated and printed once when absent
    /// (refused for a non-loopback --admin-bind).
    #[arg(long, env = "MPCLUSTER_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// File holding the admin token (a trailing newline removed).
    #[arg(long, env = "MPCLUSTER_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,

    /// Do not start the admin surface.
    #[arg(long, env = "MPCLUSTER_NO_ADMIN")]
    pub no_admin: bool,

    /// Most admin connections open at once (HTTP, event streams, gRPC);
    /// more get a 503 and are closed, so the admin port cannot use up the
    /// file descriptors the data port needs.
    #[arg(long, env = "MPCLUSTER_ADMIN_MAX_CONNECTIONS", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub admin_max_connections: u32,

    /// Threads serving connections; defaults to the CPUs this process may
    /// use less one (at least 1), leaving a core to the clients that
    /// usually share the host (see docs/performance.md).
    #[arg(long, env = "MPCLUSTER_WORKERS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,

    /// Memory the manager may use for data: bytes (`512MiB`, `2GB`) or a
    /// share of the host's or container's memory (`50%`); `0` for no
    /// limit. Past it, calls that store data fail with MemoryError while
    /// reads and deletes go on (nothing is evicted).
    #[arg(long, env = "MPCLUSTER_MAX_MEMORY", default_value = "50%", value_parser = crate::memory::parse_size)]
    pub max_memory: crate::memory::SizeSpec,

    /// Unsent reply bytes a client may leave unread: a client over it that
    /// reads nothing for a second is disconnected (as Redis's
    /// client-output-buffer-limit).
    #[arg(long, env = "MPCLUSTER_MAX_PENDING_REPLY_BYTES", default_value = "64MiB", value_parser = crate::memory::parse_size)]
    pub max_pending_reply_bytes: crate::memory::SizeSpec,
}

/// `30s`, `5m`, `2h`, `250ms`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("not a duration: {s:?} (try 30s, 5m, 250ms)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("unknown unit in {s:?}: use ms, s, m or h")),
    };
    if !(0.0..=1e9).contains(&secs) {
        return Err(format!("duration out of range: {s:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The TOML file of named objects:
///
/// ```toml
/// [objects]
/// get_queue = { kind = "Queue" }
/// get_dict = { kind = "dict" }
/// get_jobs = { kind = "Queue", args = [100] }
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub objects: BTreeMap<String, NamedObject>,
}

/// One `register(name)`-style typeid served by a single shared object.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedObject {
    /// A SyncManager typeid: `Queue`, `dict`, `list`, `Namespace`, ...
    pub kind: String,
    /// Positional constructor arguments (`args = [10]` for `Queue(10)`).
    #[serde(default)]
    pub args: Vec<toml::Value>,
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("named object {name:?}: {reason}")]
    Named { name: String, reason: String },
}

impl FileConfig {
    pub fn load(path: &std::path::Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    pub fn parse(text: &str) -> Result<FileConfig, toml::de::Error> {
        toml::from_str(text)
    }
}

/// A TOML value as a Python value (for constructor arguments).
pub fn toml_to_value(v: &toml::Value) -> Result<mpcluster_wire::Value, String> {
    use mpcluster_wire::Value;
    Ok(match v {
        toml::Value::String(s) => Value::from(s.as_str()),
        toml::Value::Integer(i) => Value::Int(*i),
        toml::Value::Float(f) => Value::Float(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Array(items) => {
            Value::List(items.iter().map(toml_to_value).collect::<Result<_, _>>()?)
        }
        toml::Value::Table(t) => {
            let mut d = mpcluster_wire::Dict::new();
            for (k, v) in t {
                d.insert(Value::from(k.as_str()), toml_to_value(v)?)
                    .map_err(|e| e.to_string())?;
            }
            Value::from(d)
        }
        toml::Value::Datetime(d) => return Err(format!("datetimes are not supported: {d}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn named_objects_file() {
        let c = FileConfig::parse(
            "[objects]\nget_queue = { kind = \"Queue\" }\nget_jobs = { kind = \"Queue\", args = [100] }\n",
        )
        .unwrap();
        assert_eq!(c.objects["get_queue"].kind, "Queue");
        assert_eq!(c.objects["get_jobs"].args.len(), 1);
        assert!(FileConfig::parse("[objects]\nx = { kind = \"Queue\", typo = 1 }\n").is_err());
    }

    #[test]
    fn defaults_are_runnable() {
        let c = Config::try_parse_from(["mpcluster-manager"]).unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:50000");
        assert!(!c.allow_remote_shutdown);
        assert!(c.reap_orphans_after.is_none());
        assert!(c.workers.is_none(), "main.rs picks it from the CPU count");
    }

    #[test]
    fn workers_must_be_at_least_one() {
        let c = Config::try_parse_from(["mpcluster-manager", "--workers", "1"]).unwrap();
        assert_eq!(c.workers, Some(1));
        let e = Config::try_parse_from(["mpcluster-manager", "--workers", "0"]).unwrap_err();
        assert!(e.to_string().contains("--workers"), "{e}");
    }

    #[test]
    fn admin_connection_cap_defaults_to_256_and_is_positive() {
        let c = Config::try_parse_from(["mpcluster-manager"]).unwrap();
        assert_eq!(c.admin_max_connections, 256);
        let e = Config::try_parse_from(["mpcluster-manager", "--admin-max-connections", "0"])
            .unwrap_err();
        assert!(e.to_string().contains("--admin-max-connections"), "{e}");
    }
}
