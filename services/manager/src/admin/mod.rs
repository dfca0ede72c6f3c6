//! The admin surface: HTTP (health, Prometheus metrics, a JSON API with its
//! OpenAPI document, a web page) and gRPC, on one listener of its own (the
//! data port speaks only the manager protocol).
//!
//! `view.rs` is the narrow read-only view of the manager's state both
//! protocols answer from; `http.rs` builds the router, `grpc.rs` the tonic
//! service mounted in it, `auth.rs` checks the admin token, `openapi.rs`
//! documents the API and `page.rs` serves the page. The listener
//! (`listener.rs`) caps the connections open at once; it stops on the
//! manager's one shutdown signal, finishing requests in flight.

pub mod auth;
pub mod grpc;
pub mod http;
pub mod listener;
pub mod openapi;
pub mod page;
pub mod view;

use crate::config::Config;
use crate::state::Shared;
use auth::{AdminToken, TokenError};
use listener::CappedListener;
use std::net::SocketAddr;
use std::sync::Arc;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use view::AdminView;

#[derive(Debug, Error)]
pub enum AdminError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("cannot listen for admin on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A bound, not yet serving, admin surface.
pub struct Admin {
    listener: CappedListener,
    router: axum::Router,
    shutdown: CancellationToken,
}

impl Admin {
    /// Resolves the token and binds `--admin-bind`; `None` with
    /// `--no-admin`.
    pub async fn from_config(
        config: &Config,
        shared: Arc<Shared>,
    ) -> Result<Option<Admin>, AdminError> {
        if config.no_admin {
            return Ok(None);
        }
        let token = auth::resolve(config, config.admin_bind)?;
        Admin::bind(config.admin_bind, token, shared)
            .await
            .map(Some)
    }

    /// Binds `addr` (port 0 picks one) and prints the machine-readable
    /// `mpcluster-manager admin on HOST:PORT` line.
    pub async fn bind(
        addr: SocketAddr,
        token: AdminToken,
        shared: Arc<Shared>,
    ) -> Result<Admin, AdminError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| AdminError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| AdminError::Bind { addr, source })?;
        println!("mpcluster-manager admin on {local}");
        info!(addr = %local, "admin listening");
        let shutdown = shared.shutdown.clone();
        let listener = CappedListener::new(listener, shared.settings.admin_max_connections);
        let router = http::router(Arc::new(AdminView::new(shared)), Arc::new(token));
        Ok(Admin {
            listener,
            router,
            shutdown,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        axum::serve::Listener::local_addr(&self.listener)
    }

    /// Serves HTTP/1.1 and HTTP/2 (gRPC) until the shutdown signal, then
    /// lets requests in flight finish (event streams end on the signal).
    pub async fn run(self) {
        let stop = self.shutdown.clone();
        let served = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
        if let Err(e) = served {
            warn!(error = %e, "admin listener failed");
        }
        info!("admin stopped");
    }
}
