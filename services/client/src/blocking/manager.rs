//! The blocking [`Manager`]: connect, create, open, and the control
//! requests, each waiting on the manager's I/O runtime.

use super::{
    AcquirerProxy, ArrayProxy, BarrierProxy, ConditionProxy, DictProxy, EventProxy, ListProxy,
    NamespaceProxy, QueueProxy, RawProxy, ValueProxy,
};
use crate::error::Result;
use crate::manager::IntoAddress;
use crate::{Address, ManagerBuilder, Proxy, Token};
use mpcluster_wire::{Dict, Value};
use serde::Serialize;
use std::future::Future;
use std::time::Duration;

/// A connected manager, blocking API. Clone it freely; see
/// [`crate::Manager`] for the semantics of each method.
#[derive(Clone, Debug)]
pub struct Manager(crate::Manager);

impl ManagerBuilder {
    /// [`ManagerBuilder::connect`] for the blocking API.
    pub fn connect_blocking(self) -> Result<Manager> {
        let m = Manager(self.build()?);
        m.block(m.0.ping())?;
        Ok(m)
    }
}

impl From<crate::Manager> for Manager {
    fn from(m: crate::Manager) -> Manager {
        Manager(m)
    }
}

impl Manager {
    /// Connects with default settings and checks the authkey.
    pub fn connect(address: impl IntoAddress, authkey: impl AsRef<[u8]>) -> Result<Manager> {
        crate::Manager::builder(address, authkey).connect_blocking()
    }

    /// Settings beyond the defaults; finish with
    /// [`ManagerBuilder::connect_blocking`].
    pub fn builder(address: impl IntoAddress, authkey: impl AsRef<[u8]>) -> ManagerBuilder {
        crate::Manager::builder(address, authkey)
    }

    /// The async manager underneath (same connections and references).
    pub fn as_async(&self) -> &crate::Manager {
        &self.0
    }

    fn block<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        self.0.shared.io.block_on(fut)?
    }

    /// The address given to `connect`.
    pub fn address(&self) -> &Address {
        self.0.address()
    }

    /// Sends `dummy`.
    pub fn ping(&self) -> Result<()> {
        self.block(self.0.ping())
    }

    /// `number_of_objects`.
    pub fn number_of_objects(&self) -> Result<usize> {
        self.block(self.0.number_of_objects())
    }

    /// `debug_info`.
    pub fn debug_info(&self) -> Result<String> {
        self.block(self.0.debug_info())
    }

    /// Waits until the references of dropped proxies have been released.
    pub fn flush(&self) -> Result<()> {
        self.block(self.0.flush())
    }

    /// Closes the idle serving connections.
    pub fn close_idle_connections(&self) {
        self.0.close_idle_connections();
    }

    /// `create(typeid, *args, **kwds)` as an untyped proxy.
    pub fn create_raw(&self, typeid: &str, args: Vec<Value>, kwds: Dict) -> Result<RawProxy> {
        self.create(typeid, args, kwds)
    }

    /// `create` wrapped in the proxy type `P` (blocking or async types).
    pub fn create<P: Proxy>(&self, typeid: &str, args: Vec<Value>, kwds: Dict) -> Result<P> {
        self.block(self.0.create(typeid, args, kwds))
    }

    /// A named object: `manager.get::<QueueProxy<Job>>("get_queue")`.
    pub fn get<P: Proxy>(&self, typeid: &str) -> Result<P> {
        self.block(self.0.get(typeid))
    }

    /// Reopens the object a token names.
    pub fn open<P: Proxy>(&self, token: Token) -> Result<P> {
        self.block(self.0.open(token))
    }

    /// `manager.list(items)`.
    pub fn list<T: Serialize>(&self, items: &[T]) -> Result<ListProxy<T>> {
        self.block(self.0.list(items)).map(ListProxy::from)
    }

    /// `manager.dict(pairs)`.
    pub fn dict<K: Serialize, V: Serialize>(&self, pairs: &[(K, V)]) -> Result<DictProxy<K, V>> {
        self.block(self.0.dict(pairs)).map(DictProxy::from)
    }

    /// `manager.Namespace()`.
    pub fn namespace(&self) -> Result<NamespaceProxy> {
        self.block(self.0.namespace()).map(NamespaceProxy::from)
    }

    /// `manager.Value(typecode, value)`.
    pub fn value<T: Serialize>(&self, typecode: &str, value: &T) -> Result<ValueProxy<T>> {
        self.block(self.0.value(typecode, value))
            .map(ValueProxy::from)
    }

    /// `manager.Array(typecode, items)`.
    pub fn array<T: Serialize>(&self, typecode: &str, items: &[T]) -> Result<ArrayProxy<T>> {
        self.block(self.0.array(typecode, items))
            .map(ArrayProxy::from)
    }

    /// `manager.Queue(maxsize)`.
    pub fn queue<T>(&self, maxsize: usize) -> Result<QueueProxy<T>> {
        self.block(self.0.queue(maxsize)).map(QueueProxy::from)
    }

    /// `manager.JoinableQueue(maxsize)`.
    pub fn joinable_queue<T>(&self, maxsize: usize) -> Result<QueueProxy<T>> {
        self.block(self.0.joinable_queue(maxsize))
            .map(QueueProxy::from)
    }

    /// `manager.Lock()`.
    pub fn lock(&self) -> Result<AcquirerProxy> {
        self.block(self.0.lock()).map(AcquirerProxy::from)
    }

    /// `manager.RLock()`.
    pub fn rlock(&self) -> Result<AcquirerProxy> {
        self.block(self.0.rlock()).map(AcquirerProxy::from)
    }

    /// `manager.Semaphore(value)`.
    pub fn semaphore(&self, value: usize) -> Result<AcquirerProxy> {
        self.block(self.0.semaphore(value)).map(AcquirerProxy::from)
    }

    /// `manager.BoundedSemaphore(value)`.
    pub fn bounded_semaphore(&self, value: usize) -> Result<AcquirerProxy> {
        self.block(self.0.bounded_semaphore(value))
            .map(AcquirerProxy::from)
    }

    /// `manager.Condition(lock)`.
    pub fn condition(&self, lock: Option<&AcquirerProxy>) -> Result<ConditionProxy> {
        self.block(self.0.condition(lock.map(AcquirerProxy::as_async)))
            .map(ConditionProxy::from)
    }

    /// `manager.Event()`.
    pub fn event(&self) -> Result<EventProxy> {
        self.block(self.0.event()).map(EventProxy::from)
    }

    /// `manager.Barrier(parties, timeout=timeout)`.
    pub fn barrier(&self, parties: usize, timeout: Option<Duration>) -> Result<BarrierProxy> {
        self.block(self.0.barrier(parties, timeout))
            .map(BarrierProxy::from)
    }
}
