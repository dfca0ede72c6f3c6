//! The gRPC admin service (`proto/admin.proto`, package
//! `mpcluster.admin.v1`, service `Admin`), answering from the same view as
//! the HTTP API.
//!
//! The code is generated at build time (`build.rs`: protox + tonic); the
//! messages, the server and the client are re-exported as [`pb`], so tests
//! and `mpctl` can use the generated `AdminClient`. The service runs behind
//! the token interceptor and is mounted on the admin router under
//! [`ROUTE`]: gRPC clients speak HTTP/2 without TLS (h2c) to the admin port.

use super::auth::{AdminToken, TokenInterceptor};
use super::view::{self, AdminView, ViewError};
use std::pin::Pin;
use std::sync::Arc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status};

/// The generated protobuf messages, server and client.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod pb {
    tonic::include_proto!("mpcluster.admin.v1");
}

use pb::admin_server::{Admin, AdminServer};

/// Where the router mounts the service: every method of `Admin`.
pub const ROUTE: &str = "/mpcluster.admin.v1.Admin/{*rest}";

/// The service, ready to mount.
pub type Service = InterceptedService<AdminServer<AdminGrpc>, TokenInterceptor>;

/// The service behind the token check.
pub fn service(view: Arc<AdminView>, token: Arc<AdminToken>) -> Service {
    AdminServer::with_interceptor(AdminGrpc { view }, TokenInterceptor(token))
}

/// Implements `Admin` over the view.
pub struct AdminGrpc {
    view: Arc<AdminView>,
}

impl From<ViewError> for Status {
    fn from(e: ViewError) -> Status {
        match e {
            ViewError::NoSuchObject(_) | ViewError::NoSuchConnection(_) => {
                Status::not_found(e.to_string())
            }
            ViewError::Named(_) => Status::failed_precondition(e.to_string()),
        }
    }
}

impl From<view::ObjectInfo> for pb::ObjectInfo {
    fn from(o: view::ObjectInfo) -> Self {
        pb::ObjectInfo {
            id: o.id,
            typeid: o.typeid,
            type_name: o.type_name,
            refcount: o.refcount,
            created: o.created,
            last_used_seconds_ago: o.last_used_seconds_ago,
            size: o.size,
            conns: o
                .conns
                .into_iter()
                .map(|c| pb::ConnRef {
                    id: c.id,
                    open: c.open,
                })
                .collect(),
            orphan: o.orphan,
            named: o.named,
            memory_bytes: o.memory_bytes,
        }
    }
}

impl From<view::ConnectionInfo> for pb::ConnectionInfo {
    fn from(c: view::ConnectionInfo) -> Self {
        pb::ConnectionInfo {
            id: c.id,
            peer: c.peer,
            name: c.name,
            opened: c.opened,
            authenticated: c.authenticated,
            requests: c.requests,
            bytes_in: c.bytes_in,
            bytes_out: c.bytes_out,
            waiting: c.waiting,
        }
    }
}

impl From<view::Stats> for pb::Stats {
    fn from(s: view::Stats) -> Self {
        pb::Stats {
            version: s.version,
            started: s.started,
            uptime_seconds: s.uptime_seconds,
            objects: s.objects,
            objects_referenced: s.objects_referenced,
            orphans: s.orphans,
            connections: s.connections,
            requests_total: s.requests_total,
            advertised: s.advertised,
            memory_used_bytes: s.memory_used_bytes,
            memory_limit_bytes: s.memory_limit_bytes,
            memory_objects_bytes: s.memory_objects_bytes,
        }
    }
}

impl From<view::EventInfo> for pb::Event {
    fn from(e: view::EventInfo) -> Self {
        use pb::event::Kind;
        use view::EventKind as K;
        let kind = match e.kind {
            K::ObjectCreated { id, typeid } => Kind::ObjectCreated(pb::ObjectEvent { id, typeid }),
            K::ObjectDisposed { id, typeid } => {
                Kind::ObjectDisposed(pb::ObjectEvent { id, typeid })
            }
            K::ClientConnected { conn, peer } => {
                Kind::ClientConnected(pb::ClientEvent { conn, peer })
            }
            K::ClientDisconnected { conn, peer } => {
                Kind::ClientDisconnected(pb::ClientEvent { conn, peer })
            }
            K::AuthFailed { peer, reason } => Kind::AuthFailed(pb::AuthFailed { peer, reason }),
            K::Lagged { skipped } => Kind::Lagged(pb::Lagged { skipped }),
        };
        pb::Event {
            at: e.at,
            kind: Some(kind),
        }
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send>>;

#[tonic::async_trait]
impl Admin for AdminGrpc {
    async fn list_objects(
        &self,
        _: Request<pb::ListObjectsRequest>,
    ) -> Result<Response<pb::ListObjectsResponse>, Status> {
        let objects = self.view.objects().into_iter().map(Into::into).collect();
        Ok(Response::new(pb::ListObjectsResponse { objects }))
    }

    async fn get_object(
        &self,
        req: Request<pb::GetObjectRequest>,
    ) -> Result<Response<pb::ObjectDetail>, Status> {
        let d = self.view.object(&req.into_inner().id).await?;
        Ok(Response::new(pb::ObjectDetail {
            object: Some(d.object.into()),
            preview: d.preview,
            preview_truncated: d.preview_truncated,
            preview_limit: d.preview_limit,
        }))
    }

    async fn delete_object(
        &self,
        req: Request<pb::DeleteObjectRequest>,
    ) -> Result<Response<pb::ObjectInfo>, Status> {
        let o = self.view.delete_object(&req.into_inner().id)?;
        Ok(Response::new(o.into()))
    }

    async fn list_connections(
        &self,
        _: Request<pb::ListConnectionsRequest>,
    ) -> Result<Response<pb::ListConnectionsResponse>, Status> {
        let connections = self
            .view
            .connections()
            .into_iter()
            .map(Into::into)
            .collect();
        Ok(Response::new(pb::ListConnectionsResponse { connections }))
    }

    async fn drop_connection(
        &self,
        req: Request<pb::DropConnectionRequest>,
    ) -> Result<Response<pb::ConnectionInfo>, Status> {
        let c = self.view.drop_connection(req.into_inner().id)?;
        Ok(Response::new(c.into()))
    }

    async fn get_stats(
        &self,
        _: Request<pb::GetStatsRequest>,
    ) -> Result<Response<pb::Stats>, Status> {
        Ok(Response::new(self.view.stats().into()))
    }

    type WatchEventsStream = EventStream;

    async fn watch_events(
        &self,
        _: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<EventStream>, Status> {
        // Ends when the manager shuts down, so graceful shutdown is not
        // held up by a watcher.
        let stream = ReceiverStream::new(self.view.watch()).map(|e| Ok(pb::Event::from(e)));
        Ok(Response::new(Box::pin(stream)))
    }
}
