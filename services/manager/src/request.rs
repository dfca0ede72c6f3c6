//! A decoded request: `(ident, name, args, kwds)` (docs/protocol.md 5.1).
//!
//! CPython unpacks the request with `ident, name, args, kwds = request` and
//! later calls `f(*args, **kwds)`, so any iterable of four items is a
//! request (even a 4-character string), and `args`/`kwds` are only checked
//! when the call is made. We keep that order: [`Request::parse`] does the
//! unpacking, [`Request::args`] the expansion, each failing with the
//! message Python would give in that place (docs/protocol.md 5.3, 5.5).

use crate::args::Args;
use crate::pyexc::PyException;
use mpcluster_wire::Value;

/// One request from a client, unpacked but not yet interpreted.
#[derive(Debug)]
pub struct Request {
    /// The object id (`None` on control connections).
    pub ident: Value,
    /// The function or method name (a `str` from any sane client).
    pub name: Value,
    pub args: Value,
    pub kwds: Value,
}

/// Why `*args, **kwds` could not be expanded.
#[derive(Debug)]
pub enum ArgsError {
    NotIterable(String),
    NotMapping(String),
    KeywordsNotStrings,
}

impl ArgsError {
    /// The `TypeError` Python raises when calling `callable` (its
    /// qualified name, e.g. `list.append`) this way. CPython names the
    /// callable for `**` errors always, for `*` errors only for builtin
    /// methods; `callable` is `None` in the latter case.
    pub fn to_exception(&self, star_callable: Option<&str>, callable: &str) -> PyException {
        PyException::type_error(match self {
            ArgsError::NotIterable(t) => match star_callable {
                Some(c) => format!("{c}() argument after * must be an iterable, not {t}"),
                None => format!("Value after * must be an iterable, not {t}"),
            },
            ArgsError::NotMapping(t) => {
                format!("{callable}() argument after ** must be a mapping, not {t}")
            }
            ArgsError::KeywordsNotStrings => match star_callable {
                Some(c) => format!("{c}() keywords must be strings"),
                None => "keywords must be strings".to_string(),
            },
        })
    }
}

/// The items of `v` when Python can iterate it, as `*v` would see them.
pub fn py_iter(v: Value) -> Result<Vec<Value>, Value> {
    // A request's `*args` come as a tuple, which a decoded value never
    // refers back to (see `value/cycle.rs`): moved as they are.
    Ok(match v {
        Value::Tuple(items) | Value::List(items) => items,
        s @ (Value::Str(_) | Value::SurrogateStr(_)) => s.str_items().unwrap_or_default(),
        Value::Bytes(b) | Value::ByteArray(b) => {
            b.into_iter().map(|x| Value::Int(x as i64)).collect()
        }
        Value::Dict(d) => d.into_iter().map(|(k, _)| k).collect(),
        Value::Set(s) | Value::FrozenSet(s) => s.into_iter().collect(),
        other => return Err(other),
    })
}

impl Request {
    /// `ident, name, args, kwds = request`.
    pub fn parse(v: Value) -> Result<Request, PyException> {
        let items = py_iter(v).map_err(|other| {
            PyException::type_error(format!(
                "cannot unpack non-iterable {} object",
                other.type_name()
            ))
        })?;
        let n = items.len();
        let [ident, name, args, kwds]: [Value; 4] = items.try_into().map_err(|_| {
            PyException::value_error(if n < 4 {
                format!("not enough values to unpack (expected 4, got {n})")
            } else {
                "too many values to unpack (expected 4)".to_string()
            })
        })?;
        Ok(Request {
            ident,
            name,
            args,
            kwds,
        })
    }

    /// The name when it is a `str`.
    pub fn name_str(&self) -> Option<&str> {
        self.name.as_str()
    }

    /// Expands `*args, **kwds`.
    pub fn take_args(&mut self) -> Result<Args, ArgsError> {
        let args = std::mem::replace(&mut self.args, Value::None);
        let kwds = std::mem::replace(&mut self.kwds, Value::None);
        let pos = py_iter(args).map_err(|other| ArgsError::NotIterable(other.type_name()))?;
        let kw = match kwds {
            Value::Dict(d) => {
                let mut kw = Vec::with_capacity(d.len());
                for (k, v) in d.into_iter() {
                    match k {
                        Value::Str(s) => kw.push((s, v)),
                        _ => return Err(ArgsError::KeywordsNotStrings),
                    }
                }
                kw
            }
            other => return Err(ArgsError::NotMapping(other.type_name())),
        };
        Ok(Args { pos, kw })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(items: Vec<Value>) -> Value {
        Value::Tuple(items)
    }

    #[test]
    fn parses_a_method_call() {
        let mut r = Request::parse(req(vec![
            Value::from("7f"),
            Value::from("append"),
            Value::tuple([Value::Int(3)]),
            Value::Dict(Box::default()),
        ]))
        .unwrap();
        assert_eq!(r.name_str(), Some("append"));
        assert_eq!(r.take_args().unwrap().pos.len(), 1);
    }

    #[test]
    fn unpacking_is_pythons() {
        let e = Request::parse(req(vec![Value::None; 3])).unwrap_err();
        assert_eq!(
            e.message(),
            "not enough values to unpack (expected 4, got 3)"
        );
        let e = Request::parse(Value::Int(1)).unwrap_err();
        assert_eq!(e.message(), "cannot unpack non-iterable int object");
        // A 4-character string unpacks into four 1-character strings.
        let r = Request::parse(Value::from("abcd")).unwrap();
        assert_eq!(r.name_str(), Some("b"));
    }

    #[test]
    fn expansion_errors_name_the_callable_like_python() {
        let mut r = Request::parse(req(vec![
            Value::None,
            Value::from("dummy"),
            Value::None,
            Value::Dict(Box::default()),
        ]))
        .unwrap();
        let e = r.take_args().unwrap_err();
        assert_eq!(
            e.to_exception(None, "x").message(),
            "Value after * must be an iterable, not NoneType"
        );
        assert_eq!(
            e.to_exception(Some("list.append"), "list.append").message(),
            "list.append() argument after * must be an iterable, not NoneType"
        );
        let mut r = Request::parse(req(vec![
            Value::None,
            Value::from("dummy"),
            Value::from("ab"),
            Value::Int(5),
        ]))
        .unwrap();
        let e = r.take_args().unwrap_err();
        assert_eq!(
            e.to_exception(None, "multiprocessing.managers.Server.dummy")
                .message(),
            "multiprocessing.managers.Server.dummy() argument after ** must be a mapping, not int"
        );
    }
}
