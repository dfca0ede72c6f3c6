//! The Python value model: what a pickle turns into on this side of the wire.
//!
//! The server never executes a pickle. The decoder (`crate::pickle`) parses it
//! into a [`Value`]: the built-in types CPython clients send every day are
//! modelled natively, everything else (user classes, `datetime`, exceptions,
//! proxies passed as arguments) becomes an [`Object`]: the global it names, the
//! arguments of its reduce call and its state, which the encoder writes back
//! unchanged.
//!
//! Built-in values follow Python's rules for equality (`eq.rs`), hashing
//! (`hash.rs`), ordering (`ord.rs`) and `repr` (`repr.rs`), so `1`, `1.0` and
//! `True` are one dict key here as in CPython. The serde bridge (`serde/`) maps
//! Rust types onto these values for the Rust client.
//!
//! Values are plain trees. Shared references inside one pickle are copied when
//! decoded (equal in Python's sense); a container that contains itself is the
//! only cycle a tree cannot hold, so it is written as [`Value::BackRef`], a
//! reference to an enclosing container, which the encoder turns back into a
//! memo reference.

mod builtin_fns;
mod builtin_num;
mod cycle;
mod dict;
mod eq;
mod error;
mod hash;
mod names;
mod ord;
mod printable;
mod repr;
mod repr_array;
mod repr_num;
mod repr_obj;
pub mod serde;
mod size;
mod sort;
mod sort_key;
mod surrogate;

pub use self::serde::{from_value, from_value_ref, to_value, SerdeError, ValueSerializer};
pub use builtin_fns::SortKeyError;
pub use dict::{Dict, Key, Set};
pub use error::OpError;
pub use ord::{py_compare, py_lt, CompareOp};
pub use repr::{ObjectRepr, ReprOptions};
pub use size::items_bytes;
pub use sort::py_sort;
pub use sort_key::{py_sort_by_key, SortKey, SUPPORTED as SUPPORTED_SORT_KEYS};
pub use surrogate::{Piece, SurrogateStr};

use num_bigint::BigInt;

/// One Python value.
///
/// Large variants are boxed so that a `Value` stays at 32 bytes: lists of
/// values are the bulk of what a manager stores.
#[derive(Clone, Debug)]
pub enum Value {
    None,
    Bool(bool),
    /// An `int` that fits in 64 bits.
    Int(i64),
    /// An `int` outside the `i64` range. Never holds a value that fits in
    /// `i64` (constructors normalise), so equality can compare variants.
    BigInt(Box<BigInt>),
    Float(f64),
    Complex(Box<(f64, f64)>),
    Str(String),
    /// A `str` holding a lone surrogate, which `String` cannot (file names
    /// decoded with `surrogateescape`); see [`SurrogateStr`].
    SurrogateStr(SurrogateStr),
    Bytes(Vec<u8>),
    ByteArray(Vec<u8>),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Box<Dict>),
    Set(Box<Set>),
    FrozenSet(Box<Set>),
    /// A bare global: a function or class passed by reference
    /// (`builtins.abs`, `multiprocessing.managers.ListProxy`).
    Global(Box<Global>),
    /// An instance the server does not model (see [`Object`]).
    Object(Box<Object>),
    /// A reference to an enclosing container, `n` levels up (0 = the
    /// innermost container that holds this value). Only produced for cyclic
    /// structures such as `l = []; l.append(l)`.
    BackRef(usize),
}

/// A global reference: `module.name` as pickle's `STACK_GLOBAL` names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Global {
    pub module: String,
    pub name: String,
}

impl Global {
    pub fn new(module: impl Into<String>, name: impl Into<String>) -> Self {
        Global {
            module: module.into(),
            name: name.into(),
        }
    }

    /// True when this is `module.name`.
    pub fn is(&self, module: &str, name: &str) -> bool {
        self.module == module && self.name == name
    }
}

/// How an opaque object is constructed when unpickled.
#[derive(Clone, Debug)]
pub enum Build {
    /// `REDUCE`: `callable(*args)`; `args` is a tuple value.
    Reduce { callable: Value, args: Value },
    /// `NEWOBJ` / `NEWOBJ_EX`: `cls.__new__(cls, *args, **kwargs)`.
    NewObj {
        cls: Value,
        args: Value,
        kwargs: Option<Value>,
    },
}

/// An instance of a type the server does not model, kept as the recipe that
/// rebuilds it: construction, then `APPENDS`, `SETITEMS` and `BUILD`, in the
/// order CPython's pickler writes them (`save_reduce`).
#[derive(Clone, Debug)]
pub struct Object {
    pub build: Build,
    /// Items appended to the new object (`listitems` of `__reduce_ex__`).
    pub list_items: Vec<Value>,
    /// Items set on the new object (`dictitems` of `__reduce_ex__`).
    pub dict_items: Vec<(Value, Value)>,
    /// The argument of `BUILD` (`__setstate__` or a `__dict__` update).
    pub state: Option<Value>,
}

impl Object {
    /// `callable(*args)` with nothing else.
    pub fn reduce(callable: Value, args: Vec<Value>) -> Self {
        Object {
            build: Build::Reduce {
                callable,
                args: Value::Tuple(args),
            },
            list_items: Vec::new(),
            dict_items: Vec::new(),
            state: None,
        }
    }

    /// `cls.__new__(cls, *args)` followed by `BUILD state`.
    pub fn new_obj(cls: Value, args: Vec<Value>, state: Option<Value>) -> Self {
        Object {
            build: Build::NewObj {
                cls,
                args: Value::Tuple(args),
                kwargs: None,
            },
            list_items: Vec::new(),
            dict_items: Vec::new(),
            state,
        }
    }

    /// The global that constructs the object (the reduce callable or the
    /// class of `NEWOBJ`), when it is a plain global.
    pub fn global(&self) -> Option<&Global> {
        let v = match &self.build {
            Build::Reduce { callable, .. } => callable,
            Build::NewObj { cls, .. } => cls,
        };
        match v {
            Value::Global(g) => Some(g),
            _ => None,
        }
    }

    /// The positional arguments of the construction, when they are a tuple.
    pub fn args(&self) -> &[Value] {
        let v = match &self.build {
            Build::Reduce { args, .. } => args,
            Build::NewObj { args, .. } => args,
        };
        match v {
            Value::Tuple(items) => items,
            _ => &[],
        }
    }

    /// Whether this is a manager proxy (`RebuildProxy(...)`): its class
    /// (`BaseProxy`) defines no comparison methods, so CPython compares
    /// two of them by identity and cannot order them.
    pub fn is_proxy(&self) -> bool {
        matches!(&self.build, Build::Reduce { callable: Value::Global(g), .. }
            if g.is("multiprocessing.managers", "RebuildProxy"))
    }

    /// The Python class name this object reports as its type, for error
    /// messages (`'<' not supported between instances of 'Foo' and 'int'`).
    ///
    /// For a `REDUCE` the callable is usually the class itself (exceptions,
    /// `datetime`), or a module-level rebuild function whose first argument
    /// is the class (`copyreg._reconstructor`, `RebuildProxy`).
    pub fn type_name(&self) -> String {
        if let Build::Reduce {
            callable: Value::Global(g),
            args,
        } = &self.build
        {
            if g.is("copyreg", "_reconstructor") || self.is_proxy() {
                if let Value::Tuple(items) = args {
                    if let Some(Value::Global(cls)) = items.first() {
                        return short_name(&cls.name).to_string();
                    }
                }
            }
        }
        match self.global() {
            Some(g) => short_name(&g.name).to_string(),
            None => "object".to_string(),
        }
    }
}

/// `Outer.Inner` → `Inner`, as `type(x).__name__` shows a qualname.
fn short_name(qualname: &str) -> &str {
    qualname.rsplit('.').next().unwrap_or(qualname)
}

impl Value {
    /// An int from any `BigInt`, normalised to `Int` when it fits.
    pub fn from_bigint(b: BigInt) -> Value {
        match i64::try_from(&b) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::BigInt(Box::new(b)),
        }
    }

    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    pub fn tuple(items: impl IntoIterator<Item = Value>) -> Value {
        Value::Tuple(items.into_iter().collect())
    }

    pub fn global(module: &str, name: &str) -> Value {
        Value::Global(Box::new(Global::new(module, name)))
    }

    pub fn complex(re: f64, im: f64) -> Value {
        Value::Complex(Box::new((re, im)))
    }

    /// `type(x).__name__` as CPython would print it in an error message.
    pub fn type_name(&self) -> String {
        match self {
            Value::None => "NoneType".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) | Value::BigInt(_) => "int".into(),
            Value::Float(_) => "float".into(),
            Value::Complex(_) => "complex".into(),
            Value::Str(_) | Value::SurrogateStr(_) => "str".into(),
            Value::Bytes(_) => "bytes".into(),
            Value::ByteArray(_) => "bytearray".into(),
            Value::Tuple(_) => "tuple".into(),
            Value::List(_) | Value::BackRef(_) => "list".into(),
            Value::Dict(_) => "dict".into(),
            Value::Set(_) => "set".into(),
            Value::FrozenSet(_) => "frozenset".into(),
            Value::Global(_) => "type".into(),
            Value::Object(o) => o.type_name(),
        }
    }

    /// A `str`'s UTF-8 (`surrogatepass` when it holds surrogates), whose
    /// byte order is Python's `str` order.
    pub fn str_utf8(&self) -> Option<&[u8]> {
        match self {
            Value::Str(s) => Some(s.as_bytes()),
            Value::SurrogateStr(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// A `str`'s code points, lone surrogates included; `None` for any
    /// other value.
    pub fn str_code_points(&self) -> Option<Vec<u32>> {
        match self {
            Value::Str(s) => Some(s.chars().map(u32::from).collect()),
            Value::SurrogateStr(s) => Some(
                s.pieces()
                    .flat_map(|p| match p {
                        Piece::Text(t) => t.chars().map(u32::from).collect::<Vec<_>>(),
                        Piece::Surrogate(cp) => vec![u32::from(cp)],
                    })
                    .collect(),
            ),
            _ => None,
        }
    }

    /// A `str`'s characters as one-character strings (`list('ab')`).
    pub fn str_items(&self) -> Option<Vec<Value>> {
        match self {
            Value::Str(s) => Some(s.chars().map(|c| Value::Str(c.to_string())).collect()),
            _ => Some(
                self.str_code_points()?
                    .into_iter()
                    .map(|cp| SurrogateStr::str_value([cp]))
                    .collect(),
            ),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an `i64` if it is an `int` (or `bool`, which is an int
    /// subclass in Python) that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }

    /// Python truthiness (`bool(x)`); opaque objects count as true, as an
    /// instance without `__bool__`/`__len__` does.
    pub fn truthy(&self) -> bool {
        match self {
            Value::None => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::BigInt(_) => true,
            Value::Float(f) => *f != 0.0,
            Value::Complex(c) => c.0 != 0.0 || c.1 != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::SurrogateStr(_) => true,
            Value::Bytes(b) | Value::ByteArray(b) => !b.is_empty(),
            Value::Tuple(v) | Value::List(v) => !v.is_empty(),
            Value::Dict(d) => !d.is_empty(),
            Value::Set(s) | Value::FrozenSet(s) => !s.is_empty(),
            Value::Global(_) | Value::Object(_) | Value::BackRef(_) => true,
        }
    }

    /// When the value is an opaque object built from `module.name`, the
    /// object.
    pub fn as_object_of(&self, module: &str, name: &str) -> Option<&Object> {
        match self {
            Value::Object(o) if o.global().is_some_and(|g| g.is(module, name)) => Some(o),
            _ => None,
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}
impl From<Dict> for Value {
    fn from(d: Dict) -> Self {
        Value::Dict(Box::new(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_stays_small() {
        // Lists of values are the bulk of a manager's memory.
        assert!(std::mem::size_of::<Value>() <= 32);
    }

    #[test]
    fn bigints_are_normalised() {
        assert!(matches!(Value::from_bigint(BigInt::from(5)), Value::Int(5)));
        let big = BigInt::from(i64::MAX) + 1;
        assert!(matches!(Value::from_bigint(big), Value::BigInt(_)));
    }

    #[test]
    fn object_type_names() {
        let exc = Object::reduce(Value::global("builtins", "KeyError"), vec!["x".into()]);
        assert_eq!(exc.type_name(), "KeyError");
        let inst = Object::new_obj(Value::global("mod", "Outer.Inner"), vec![], None);
        assert_eq!(inst.type_name(), "Inner");
    }
}
