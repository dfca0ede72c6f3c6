//! The listener: binds the data port, creates the named objects, accepts
//! connections under a connection cap and hands each to its own task.
//!
//! As in mini-redis' `server.rs`, the cap is a semaphore of permits; unlike
//! it, a connection over the cap is closed at once (with a log line) rather
//! than left waiting in the backlog, so a client sees an error instead of a
//! hang.

use crate::args::Args;
use crate::config::{toml_to_value, Config, ConfigError, FileConfig};
use crate::connection;
use crate::events::Events;
use crate::fdlimit;
use crate::memory;
use crate::objects::CallCtx;
use crate::registry;
use crate::state::{Settings, Shared};
use crate::store::{NewObject, Store};
use mpcluster_wire::handshake::AuthPolicy;
use mpcluster_wire::pickle;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

#[derive(Debug, Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("invalid --advertise {0:?}: expected HOST:PORT")]
    Advertise(String),
}

/// A bound, not yet serving, manager.
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl Server {
    /// Binds the data port and creates the named objects.
    pub async fn bind(
        config: &Config,
        authkey: Vec<u8>,
        shutdown: CancellationToken,
    ) -> Result<Server, StartError> {
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.bind,
                source,
            })?;
        let local = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.bind,
            source,
        })?;
        let advertised = match &config.advertise {
            Some(a) => parse_advertise(a)?,
            None => (local.ip().to_string(), local.port()),
        };
        let settings = Settings {
            max_frame: config.max_frame,
            pickle: pickle::Limits {
                max_depth: config.max_pickle_depth,
                max_values: config.max_pickle_values,
                ..pickle::Limits::default()
            },
            max_connections: config.max_connections,
            admin_max_connections: config.admin_max_connections as usize,
            handshake_timeout: config.handshake_timeout,
            auth_policy: AuthPolicy {
                refuse_md5: config.refuse_md5,
            },
            allow_remote_shutdown: config.allow_remote_shutdown,
            reap_orphans_after: config.reap_orphans_after,
            max_pending_reply_bytes: usize::try_from(
                config
                    .max_pending_reply_bytes
                    .resolve(memory::available_memory().unwrap_or(u64::MAX)),
            )
            .unwrap_or(usize::MAX),
            max_memory: memory::resolve_limit(config.max_memory),
        };
        let events = Events::default();
        let mut shared = Shared::new(
            settings,
            authkey,
            advertised,
            Store::with_events(config.max_objects, events.clone()),
            events,
            shutdown,
        );
        if let Some(path) = &config.config {
            let file = FileConfig::load(path)?;
            shared.named = create_named(&shared.store, &file)?;
        }
        Ok(Server {
            listener,
            shared: Arc::new(shared),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Accepts connections until the shutdown signal.
    pub async fn run(self) {
        let Server { listener, shared } = self;
        let permits = Arc::new(Semaphore::new(shared.settings.max_connections));
        let mut spare = fdlimit::SpareFd::new();
        if let Some(after) = shared.settings.reap_orphans_after {
            tokio::spawn(crate::reaper::run(shared.clone(), after));
        }
        if let Ok(addr) = listener.local_addr() {
            // One machine-readable line for scripts and tests (port 0 binds).
            println!("mpcluster-manager listening on {addr}");
        }
        info!(
            addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
            advertised = %format!("{}:{}", shared.advertised.0, shared.advertised.1),
            "serving"
        );
        loop {
            let accepted = tokio::select! {
                _ = shared.shutdown.cancelled() => break,
                a = listener.accept() => a,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    fdlimit::on_accept_error(&mut spare, &listener, e, "").await;
                    continue;
                }
            };
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                warn!(%peer, max = shared.settings.max_connections, "connection refused: --max-connections reached");
                drop(stream);
                continue;
            };
            let shared = shared.clone();
            tokio::spawn(async move {
                connection::handle(shared, stream, peer).await;
                drop(permit);
            });
        }
        info!("stopped accepting connections");
    }
}

fn parse_advertise(a: &str) -> Result<(String, u16), StartError> {
    let (host, port) = a
        .rsplit_once(':')
        .ok_or_else(|| StartError::Advertise(a.to_string()))?;
    let port = port
        .parse()
        .map_err(|_| StartError::Advertise(a.to_string()))?;
    if host.is_empty() {
        return Err(StartError::Advertise(a.to_string()));
    }
    Ok((host.trim_matches(['[', ']']).to_string(), port))
}

/// Creates the one shared object of each named typeid.
fn create_named(store: &Store, file: &FileConfig) -> Result<HashMap<String, String>, ConfigError> {
    let mut named = HashMap::new();
    for (name, spec) in &file.objects {
        let fail = |reason: String| ConfigError::Named {
            name: name.clone(),
            reason,
        };
        if registry::lookup(name).is_some() {
            return Err(fail(format!(
                "{name:?} is a built-in typeid; pick another name"
            )));
        }
        let kind = registry::lookup(&spec.kind)
            .ok_or_else(|| fail(format!("unknown kind {:?}", spec.kind)))?;
        let create = kind
            .create
            .ok_or_else(|| fail(format!("kind {:?} cannot be created", spec.kind)))?;
        let args = spec
            .args
            .iter()
            .map(toml_to_value)
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
        let ctx = CallCtx { conn: 0, store };
        let obj = create(&ctx, Args::new(args)).map_err(|e| fail(e.to_string()))?;
        let entry = store
            .insert(NewObject {
                typeid: name.clone(),
                obj,
                exposed: kind.exposed,
                method_to_typeid: kind.method_to_typeid,
                named: true,
            })
            .map_err(|e| fail(e.to_string()))?;
        info!(typeid = %name, kind = %spec.kind, id = %entry.id, "named object");
        named.insert(name.clone(), entry.id.clone());
    }
    Ok(named)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertise_addresses() {
        assert_eq!(
            parse_advertise("manager-1:50000").unwrap(),
            ("manager-1".to_string(), 50000)
        );
        assert_eq!(parse_advertise("[::1]:5").unwrap(), ("::1".to_string(), 5));
        assert!(parse_advertise("nohost").is_err());
        assert!(parse_advertise(":5").is_err());
    }
}
