//! [`Manager`]: a connection to one manager server (mpcluster's or
//! CPython's own), and [`ManagerBuilder`] for its settings.
//!
//! A `Manager` is a cheap handle (clone it freely) over the authkey, the
//! connection pools and the I/O runtime (`crate::runtime`). It creates
//! shared objects (the typed constructors live beside each proxy type, in
//! `proxy/*.rs`), opens named ones (`get`) and reopens objects from tokens
//! (`open`). Reference counting follows CPython where it matters to the
//! server (docs/protocol.md 6.2) and saves connections where it does not; see
//! [`Manager::create_raw`].

use crate::conn::ConnSettings;
use crate::core::Core;
use crate::error::{Error, Result};
use crate::proxy::Proxy;
use crate::raw::RawProxy;
use crate::runtime::IoRuntime;
use crate::token::{Address, Token};
use mpcluster_wire::handshake::AuthPolicy;
use mpcluster_wire::pickle::Limits;
use mpcluster_wire::{Dict, Value};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// What a handle needs: the tasks' shared core and the runtime they run on.
pub(crate) struct Shared {
    pub core: Arc<Core>,
    pub io: IoRuntime,
    pub address: Address,
}

/// A connected manager.
///
/// ```no_run
/// # async fn demo() -> mpcluster::Result<()> {
/// let manager = mpcluster::Manager::connect("127.0.0.1:50000", b"secret").await?;
/// let numbers = manager.list(&[1_i64, 2, 3]).await?;
/// numbers.push(&4).await?;
/// assert_eq!(numbers.to_vec().await?, vec![1, 2, 3, 4]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Manager {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the authkey.
        f.debug_struct("Manager")
            .field("address", &self.shared.address)
            .finish_non_exhaustive()
    }
}

/// Anything that names a manager address: `"host:port"`, an [`Address`],
/// a `SocketAddr`, or `("host", port)`.
pub trait IntoAddress {
    /// The address, or [`Error::InvalidArgument`] for unparsable text.
    fn into_address(self) -> Result<Address>;
}

impl IntoAddress for &str {
    fn into_address(self) -> Result<Address> {
        self.parse()
    }
}
impl IntoAddress for String {
    fn into_address(self) -> Result<Address> {
        self.parse()
    }
}
impl IntoAddress for Address {
    fn into_address(self) -> Result<Address> {
        Ok(self)
    }
}
impl IntoAddress for std::net::SocketAddr {
    fn into_address(self) -> Result<Address> {
        Ok(self.into())
    }
}
impl IntoAddress for (&str, u16) {
    fn into_address(self) -> Result<Address> {
        Ok(Address::new(self.0, self.1))
    }
}

impl Manager {
    /// Connects with default settings and checks the authkey (CPython's
    /// `BaseManager.connect()`: one `dummy` request).
    pub async fn connect(address: impl IntoAddress, authkey: impl AsRef<[u8]>) -> Result<Manager> {
        Manager::builder(address, authkey).connect().await
    }

    /// Settings beyond the defaults (timeouts, limits, client name).
    pub fn builder(address: impl IntoAddress, authkey: impl AsRef<[u8]>) -> ManagerBuilder {
        ManagerBuilder {
            address: address.into_address(),
            authkey: authkey.as_ref().to_vec(),
            connect_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            release_timeout: Duration::from_secs(5),
            max_frame: 1 << 30,
            limits: Limits::default(),
            refuse_md5: false,
            client_name: format!("mpcluster-rust|{}", std::process::id()),
            max_idle: 16,
            runtime: None,
        }
    }

    /// The address given to [`Manager::connect`]; tokens of objects created
    /// here carry it, as CPython's client writes its own idea of the
    /// address into them (docs/protocol.md 5.4).
    pub fn address(&self) -> &Address {
        &self.shared.address
    }

    /// Sends `dummy`, the request CPython's `connect()` uses to check the
    /// manager and the key.
    pub async fn ping(&self) -> Result<()> {
        self.control("dummy", vec![]).await.map(drop)
    }

    /// `number_of_objects`: ids the manager counts references for.
    pub async fn number_of_objects(&self) -> Result<usize> {
        let v = self.control("number_of_objects", vec![]).await?;
        v.as_i64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| Error::protocol(format!("number_of_objects returned {}", v.repr())))
    }

    /// `debug_info`: the manager's text listing of live objects.
    pub async fn debug_info(&self) -> Result<String> {
        match self.control("debug_info", vec![]).await? {
            Value::Str(s) => Ok(s),
            other => Err(Error::protocol(format!(
                "debug_info returned a {}",
                other.type_name()
            ))),
        }
    }

    /// A control request on a fresh connection to this manager.
    async fn control(&self, name: &'static str, args: Vec<Value>) -> Result<Value> {
        let core = self.shared.core.clone();
        let address = self.shared.address.clone();
        self.shared
            .io
            .run(async move { core.control(&address, name, args, Dict::new()).await })
            .await?
    }

    /// `create(typeid, *args, **kwds)`: a new shared object, or for a
    /// named typeid (`get_queue`) the server's one object.
    ///
    /// Reference counting: the server counts one reference for the
    /// creator (docs/protocol.md 5.4). A CPython client then sends `incref` for its
    /// proxy and `decref` for the creation reference, two more
    /// connections; we keep the creation reference as the proxy's own and
    /// send one `decref` when the proxy goes. The counts the server sees
    /// are the same at every moment a client could observe them, on
    /// CPython's server as on ours.
    pub async fn create_raw(&self, typeid: &str, args: Vec<Value>, kwds: Dict) -> Result<RawProxy> {
        let core = self.shared.core.clone();
        let address = self.shared.address.clone();
        let typeid = typeid.to_string();
        let (token, exposed) = self
            .shared
            .io
            .run(async move {
                let mut full = Vec::with_capacity(args.len() + 1);
                full.push(Value::from(typeid.as_str()));
                full.extend(args);
                let reply = core.control(&address, "create", full, kwds).await?;
                let (id, exposed) = read_create_reply(reply)?;
                Ok::<_, Error>((
                    Token {
                        typeid,
                        address,
                        id,
                    },
                    exposed,
                ))
            })
            .await??;
        Ok(RawProxy::new(self.shared.clone(), token, Some(exposed)))
    }

    /// `create` wrapped in the proxy type `P`.
    pub async fn create<P: Proxy>(&self, typeid: &str, args: Vec<Value>, kwds: Dict) -> Result<P> {
        self.create_raw(typeid, args, kwds).await.map(P::from_raw)
    }

    /// A named object of the server, as the remote-manager pattern's
    /// `m.get_queue()` (docs/protocol.md 10): `manager.get::<QueueProxy<Job>>("get_queue")`.
    pub async fn get<P: Proxy>(&self, typeid: &str) -> Result<P> {
        self.create(typeid, vec![], Dict::new()).await
    }

    /// Reopens the object a token names (a proxy another process handed
    /// over): `incref` on the token's manager, then the proxy. The object
    /// must still be alive, i.e. someone must still hold a reference.
    ///
    /// The token's own address is used, so tokens of objects on other
    /// managers of a cluster work too (with this manager's authkey).
    pub async fn open<P: Proxy>(&self, token: Token) -> Result<P> {
        let core = self.shared.core.clone();
        let want_methods = P::CLASS.is_none();
        let t = token.clone();
        let exposed = self
            .shared
            .io
            .run(async move {
                core.incref(&t).await?;
                if !want_methods {
                    return Ok(None);
                }
                // An auto proxy pickles its exposed names (docs/protocol.md 7.4); ask
                // for them as CPython's `AutoProxy` does without them.
                let methods = core
                    .control(&t.address, "get_methods", vec![t.to_value()], Dict::new())
                    .await;
                // The reference is ours now; give it back if we fail.
                match methods {
                    Ok(v) => Ok(read_names(&v)),
                    Err(e) => {
                        let _ = core.decref(&t).await;
                        Err(e)
                    }
                }
            })
            .await??;
        Ok(P::from_raw(RawProxy::new(
            self.shared.clone(),
            token,
            exposed,
        )))
    }

    /// Waits until the references of dropped proxies have been released on
    /// the server. Releases happen in the background; the last handle of a
    /// manager also waits for them (up to the release timeout).
    pub async fn flush(&self) -> Result<()> {
        self.shared.io.flush().await
    }

    /// Closes the idle serving connections (new calls open new ones).
    pub fn close_idle_connections(&self) {
        self.shared.core.close_idle();
    }
}

/// `(ident, exposed)` of a `create` reply.
fn read_create_reply(reply: Value) -> Result<(String, Vec<String>)> {
    let bad = |v: &Value| Error::protocol(format!("create returned {}", v.repr_bounded(200)));
    let Value::Tuple(parts) = &reply else {
        return Err(bad(&reply));
    };
    match parts.as_slice() {
        [Value::Str(id), exposed] => Ok((id.clone(), read_names(exposed).unwrap_or_default())),
        _ => Err(bad(&reply)),
    }
}

/// A tuple or list of method names.
fn read_names(v: &Value) -> Option<Vec<String>> {
    let (Value::Tuple(items) | Value::List(items)) = v else {
        return None;
    };
    items
        .iter()
        .map(|n| n.as_str().map(str::to_string))
        .collect()
}

/// Settings of a [`Manager`], from [`Manager::builder`].
pub struct ManagerBuilder {
    address: Result<Address>,
    authkey: Vec<u8>,
    connect_timeout: Duration,
    handshake_timeout: Duration,
    release_timeout: Duration,
    max_frame: usize,
    limits: Limits,
    refuse_md5: bool,
    client_name: String,
    max_idle: usize,
    runtime: Option<tokio::runtime::Handle>,
}

impl fmt::Debug for ManagerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagerBuilder")
            .field("address", &self.address.as_ref().ok())
            .field("connect_timeout", &self.connect_timeout)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl ManagerBuilder {
    /// Longest wait for a TCP connection (default 10 s).
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// Longest wait for the authkey handshake (default 10 s).
    pub fn handshake_timeout(mut self, t: Duration) -> Self {
        self.handshake_timeout = t;
        self
    }

    /// How long the last handle of the manager waits, when dropped, for the
    /// releases of dropped proxies to reach the server (default 5 s). On
    /// the caller's runtime ([`ManagerBuilder::runtime`]) the last handle
    /// does not wait: [`Manager::flush`] does, for as long as it takes.
    pub fn release_timeout(mut self, t: Duration) -> Self {
        self.release_timeout = t;
        self
    }

    /// Largest reply accepted, in bytes (default 1 GiB).
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.max_frame = bytes;
        self
    }

    /// Budgets for decoding a reply's pickle.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Refuse HMAC-MD5, which locks out CPython <= 3.11 servers.
    pub fn refuse_md5(mut self, refuse: bool) -> Self {
        self.refuse_md5 = refuse;
        self
    }

    /// The name sent with `accept_connection`, which operators see (CPython
    /// sends its process name, e.g. `MainProcess`).
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        self.client_name = name.into();
        self
    }

    /// Idle serving connections kept per manager address (default 16).
    pub fn max_idle_connections(mut self, n: usize) -> Self {
        self.max_idle = n;
        self
    }

    /// Runs the manager's connections and calls on this tokio runtime
    /// instead of a one-thread runtime of the manager's own.
    ///
    /// Calls made from a task of that runtime then run inside the calling
    /// task: no task per call, no hand-over to another thread. That is the
    /// fastest way to use the client from async code (the benchmark
    /// example does it). The runtime needs I/O and time enabled
    /// (`enable_all`), and, unlike an owned runtime, dropping the last
    /// manager handle does not wait for the `decref`s of proxies dropped
    /// just before: they run as tasks of this runtime, and
    /// [`Manager::flush`] waits for them. The blocking facade cannot be
    /// used on such a manager from inside the runtime (as always).
    pub fn runtime(mut self, handle: tokio::runtime::Handle) -> Self {
        self.runtime = Some(handle);
        self
    }

    /// Builds the manager handle and checks the server and the key with
    /// one `dummy` request.
    pub async fn connect(self) -> Result<Manager> {
        let manager = self.build()?;
        manager.ping().await?;
        Ok(manager)
    }

    /// Builds the manager handle without contacting the server.
    pub fn build(self) -> Result<Manager> {
        let settings = ConnSettings {
            authkey: self.authkey,
            policy: AuthPolicy {
                refuse_md5: self.refuse_md5,
            },
            connect_timeout: self.connect_timeout,
            handshake_timeout: self.handshake_timeout,
            max_frame: self.max_frame,
            limits: self.limits,
        };
        let shared = Shared {
            core: Arc::new(Core::new(settings, self.client_name, self.max_idle)),
            io: match self.runtime {
                Some(handle) => IoRuntime::borrowed(handle),
                None => IoRuntime::new(self.release_timeout)?,
            },
            address: self.address?,
        };
        Ok(Manager {
            shared: Arc::new(shared),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_replies_are_read_strictly() {
        let ok = Value::tuple([
            Value::from("a1"),
            Value::tuple([Value::from("append"), Value::from("pop")]),
        ]);
        let (id, exposed) = read_create_reply(ok).unwrap();
        assert_eq!(id, "a1");
        assert_eq!(exposed, ["append", "pop"]);
        assert!(read_create_reply(Value::None).is_err());
        assert!(read_create_reply(Value::tuple([Value::Int(1), Value::None])).is_err());
    }

    #[test]
    fn builder_rejects_a_bad_address_and_hides_the_key() {
        let err = Manager::builder("no-port", b"k").build().unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
        let m = Manager::builder("127.0.0.1:1", b"top-secret")
            .build()
            .unwrap();
        assert!(!format!("{m:?}").contains("top-secret"));
        assert_eq!(m.address(), &Address::new("127.0.0.1", 1));
    }

    #[tokio::test]
    async fn connection_refused_is_a_connection_error() {
        // Bind then drop a listener to find a port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = Manager::connect(("127.0.0.1", port), b"k")
            .await
            .unwrap_err();
        assert!(err.is_connection(), "{err}");
        assert!(!err.is_auth());
    }
}
