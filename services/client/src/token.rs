//! Where a shared object lives: [`Address`] and [`Token`], and their Python
//! forms.
//!
//! A CPython `Token` is `(typeid, (host, port), id)` (docs/protocol.md 6.1) and pickles
//! as `NEWOBJ multiprocessing.managers.Token` + `BUILD` of that tuple (7.3);
//! a proxy passed as a value is `RebuildProxy(cls, token, 'pickle', kwds)`
//! (7.4). This module converts between those values and Rust, so a Rust
//! program can reopen a proxy a Python program put into a queue, and hand
//! its own proxies to Python processes.

use crate::error::{Error, Result};
use mpcluster_wire::value::Build;
use mpcluster_wire::{Dict, Object, Value};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

const MANAGERS: &str = "multiprocessing.managers";

/// A manager's TCP address, as CPython's `(host, port)` tuple.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Address {
    /// Host name or IP literal (an IPv6 literal without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl Address {
    /// `host:port` as a value.
    pub fn new(host: impl Into<String>, port: u16) -> Address {
        Address {
            host: host.into(),
            port,
        }
    }

    /// The Python `(host, port)` tuple.
    pub fn to_value(&self) -> Value {
        Value::tuple([
            Value::from(self.host.as_str()),
            Value::Int(self.port.into()),
        ])
    }

    /// Reads a Python `(host, port)` tuple (or list).
    pub fn from_value(v: &Value) -> Option<Address> {
        let (Value::Tuple(items) | Value::List(items)) = v else {
            return None;
        };
        match items.as_slice() {
            [host, port] => Some(Address {
                host: host.as_str()?.to_string(),
                port: u16::try_from(port.as_i64()?).ok()?,
            }),
            _ => None,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl FromStr for Address {
    type Err = Error;

    /// `host:port`, `1.2.3.4:5`, or `[::1]:5`.
    fn from_str(s: &str) -> Result<Address> {
        let bad = || Error::InvalidArgument(format!("not a HOST:PORT address: {s:?}"));
        let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() {
            return Err(bad());
        }
        let port = port.parse::<u16>().map_err(|_| bad())?;
        Ok(Address::new(host, port))
    }
}

impl From<std::net::SocketAddr> for Address {
    fn from(a: std::net::SocketAddr) -> Address {
        Address::new(a.ip().to_string(), a.port())
    }
}

/// Names one shared object: its typeid, the manager that owns it and its
/// id there (CPython's `multiprocessing.managers.Token`).
///
/// A token holds no reference: the object lives while some proxy holds
/// one. To hand an object to another process, send the token (it is
/// `Serialize`; JSON is fine) while a proxy is still alive, and reopen it
/// there with [`crate::Manager::open`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Token {
    /// The registry name the object was created under (`"list"`, `"Queue"`,
    /// `"get_queue"`, ...).
    pub typeid: String,
    /// The manager that owns the object.
    pub address: Address,
    /// The object's id on that manager.
    pub id: String,
}

impl Token {
    /// The pickled `Token` CPython builds: `NEWOBJ` of the class with no
    /// arguments, then `BUILD` with `(typeid, address, id)`.
    pub fn to_value(&self) -> Value {
        let state = Value::tuple([
            Value::from(self.typeid.as_str()),
            self.address.to_value(),
            Value::from(self.id.as_str()),
        ]);
        Value::Object(Box::new(Object::new_obj(
            Value::global(MANAGERS, "Token"),
            vec![],
            Some(state),
        )))
    }

    /// Reads a token from a pickled `Token`, from a proxy passed as a value
    /// (`RebuildProxy(cls, token, ...)`), or from a plain
    /// `(typeid, (host, port), id)` tuple.
    pub fn from_value(v: &Value) -> Option<Token> {
        if let Some(rebuild) = v.as_object_of(MANAGERS, "RebuildProxy") {
            return Token::from_value(rebuild.args().get(1)?);
        }
        let state = match v.as_object_of(MANAGERS, "Token") {
            Some(o) => o.state.as_ref()?,
            None => v,
        };
        let Value::Tuple(items) = state else {
            return None;
        };
        match items.as_slice() {
            [typeid, address, id] => Some(Token {
                typeid: typeid.as_str()?.to_string(),
                address: Address::from_value(address)?,
                id: id.as_str()?.to_string(),
            }),
            _ => None,
        }
    }

    /// The value CPython's `BaseProxy.__reduce__` produces for a proxy of
    /// this token: `RebuildProxy(multiprocessing.managers.<class>, token,
    /// 'pickle', kwds)`. For auto proxies (`Queue` and user typeids) the
    /// class is the function `AutoProxy` and `kwds` carries `exposed`
    /// (docs/protocol.md 7.4).
    pub fn to_proxy_value(&self, class: ProxyClass<'_>) -> Value {
        let (cls, kwds) = match class {
            ProxyClass::Typed(name) => (Value::global(MANAGERS, name), Dict::new()),
            ProxyClass::Auto(exposed) => {
                let mut kwds = Dict::new();
                let names = Value::tuple(exposed.iter().map(|n| Value::from(n.as_str())));
                // A str key is always hashable.
                let _ = kwds.insert(Value::from("exposed"), names);
                (Value::global(MANAGERS, "AutoProxy"), kwds)
            }
        };
        let args = vec![
            cls,
            self.to_value(),
            Value::from("pickle"),
            Value::from(kwds),
        ];
        Value::Object(Box::new(Object {
            build: Build::Reduce {
                callable: Value::global(MANAGERS, "RebuildProxy"),
                args: Value::Tuple(args),
            },
            list_items: Vec::new(),
            dict_items: Vec::new(),
            state: None,
        }))
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} at {}", self.typeid, self.id, self.address)
    }
}

/// Which CPython proxy class a pickled proxy names.
#[derive(Clone, Copy, Debug)]
pub enum ProxyClass<'a> {
    /// A class of `multiprocessing.managers` (`"ListProxy"`,
    /// `"AcquirerProxy"`, ...).
    Typed(&'a str),
    /// `AutoProxy` with the object's exposed method names.
    Auto(&'a [String]),
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpcluster_wire::pickle;

    fn token() -> Token {
        Token {
            typeid: "list".into(),
            address: Address::new("127.0.0.1", 5000),
            id: "7f00aa".into(),
        }
    }

    #[test]
    fn token_pickles_byte_for_byte_as_cpython() {
        // Spec 7.3, with the layout written out by hand.
        let mut want = vec![0x80, 0x04, 0x95];
        let body: Vec<u8> = [
            &[0x8c, 0x18][..],
            b"multiprocessing.managers",
            &[0x94, 0x8c, 0x05],
            b"Token",
            &[0x94, 0x93, 0x94, 0x29, 0x81, 0x94, 0x8c, 0x04],
            b"list",
            &[0x94, 0x8c, 0x09],
            b"127.0.0.1",
            &[0x94, 0x4d, 0x88, 0x13, 0x86, 0x94, 0x8c, 0x06],
            b"7f00aa",
            &[0x94, 0x87, 0x94, 0x62, 0x2e],
        ]
        .concat();
        want.extend_from_slice(&(body.len() as u64).to_le_bytes());
        want.extend_from_slice(&body);
        assert_eq!(pickle::encode(&token().to_value()), want);
    }

    #[test]
    fn token_round_trips_through_every_form() {
        let t = token();
        assert_eq!(Token::from_value(&t.to_value()), Some(t.clone()));
        let typed = t.to_proxy_value(ProxyClass::Typed("ListProxy"));
        assert_eq!(Token::from_value(&typed), Some(t.clone()));
        let exposed = vec!["get".to_string(), "put".to_string()];
        let auto = t.to_proxy_value(ProxyClass::Auto(&exposed));
        assert_eq!(Token::from_value(&auto), Some(t.clone()));
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<Token>(&json).unwrap(), t);
        assert_eq!(Token::from_value(&Value::from("x")), None);
    }

    #[test]
    fn rebuild_proxy_value_matches_spec_layout() {
        // `RebuildProxy(ListProxy, token, 'pickle', {})` decodes back with
        // the same callable and argument shapes CPython writes.
        let v = token().to_proxy_value(ProxyClass::Typed("ListProxy"));
        let back = pickle::decode(&pickle::encode(&v), &Default::default()).unwrap();
        let o = back.as_object_of(MANAGERS, "RebuildProxy").unwrap();
        assert!(matches!(&o.args()[0], Value::Global(g) if g.is(MANAGERS, "ListProxy")));
        assert_eq!(o.args()[2], Value::from("pickle"));
        assert!(matches!(&o.args()[3], Value::Dict(d) if d.is_empty()));
    }

    #[test]
    fn addresses_parse_and_print() {
        let a: Address = "example.org:50000".parse().unwrap();
        assert_eq!(a, Address::new("example.org", 50000));
        let v6: Address = "[::1]:7".parse().unwrap();
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.to_string(), "[::1]:7");
        assert!("nope".parse::<Address>().is_err());
        assert!(":5".parse::<Address>().is_err());
        assert!("h:99999".parse::<Address>().is_err());
        assert_eq!(Address::from_value(&a.to_value()), Some(a));
    }
}
