//! [`NamespaceProxy`]: a shared `multiprocessing.managers.Namespace`
//! (docs/protocol.md 9.4), and `Manager::namespace`.
//!
//! Attributes are read with `__getattribute__`, written with
//! `__setattr__` and deleted with `__delattr__`, as CPython's
//! `NamespaceProxy` does; each attribute has its own type.

use super::{arg, none_on, out, typed_proxy};
use crate::error::{exc, Error, Result};
use crate::manager::Manager;
use crate::raw::RawProxy;
use mpcluster_wire::{Dict, Value};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A shared namespace of named attributes.
pub struct NamespaceProxy {
    raw: RawProxy,
}

typed_proxy!(NamespaceProxy, Some("NamespaceProxy"));

impl Manager {
    /// `manager.Namespace()`: a new, empty shared namespace.
    pub async fn namespace(&self) -> Result<NamespaceProxy> {
        self.create("Namespace", vec![], Dict::new()).await
    }
}

impl NamespaceProxy {
    /// `ns.<name>`, with `None` when the attribute is missing (the server's
    /// `AttributeError`).
    pub async fn get<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        let got = self
            .raw
            .call("__getattribute__", vec![Value::from(name)], Dict::new())
            .await;
        none_on(got, exc::ATTRIBUTE_ERROR)?.map(out).transpose()
    }

    /// `ns.<name> = value`.
    pub async fn set<T: Serialize + ?Sized>(&self, name: &str, value: &T) -> Result<()> {
        let args = vec![Value::from(name), arg(value)?];
        self.raw
            .call("__setattr__", args, Dict::new())
            .await
            .map(drop)
    }

    /// `del ns.<name>`; `AttributeError` when missing.
    pub async fn delete(&self, name: &str) -> Result<()> {
        let args = vec![Value::from(name)];
        self.raw
            .call("__delattr__", args, Dict::new())
            .await
            .map(drop)
    }

    /// Every attribute (`#GETVALUE` returns the `Namespace` itself; its
    /// state is the attribute dict), in the server's order.
    pub async fn attributes(&self) -> Result<Vec<(String, Value)>> {
        let v = self.raw.get_value().await?;
        let state = match &v {
            Value::Object(o) => o.state.clone(),
            _ => None,
        };
        match state {
            Some(Value::Dict(d)) => d
                .into_iter()
                .map(|(k, v)| match k {
                    Value::Str(name) => Ok((name, v)),
                    other => Err(Error::protocol(format!(
                        "namespace attribute name is a {}",
                        other.type_name()
                    ))),
                })
                .collect(),
            // A namespace without attributes pickles without state.
            None => Ok(Vec::new()),
            Some(_) => Err(Error::protocol(format!(
                "unexpected namespace value {}",
                v.repr_bounded(100)
            ))),
        }
    }

    /// All attributes as one struct with named fields (or a map).
    pub async fn to_struct<T: DeserializeOwned>(&self) -> Result<T> {
        let mut d = Dict::new();
        for (k, v) in self.attributes().await? {
            // A str key is always hashable.
            let _ = d.insert(Value::Str(k), v);
        }
        out(Value::from(d))
    }
}
