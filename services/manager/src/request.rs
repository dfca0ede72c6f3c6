//! A decoded request: `(ident, name, args, kwds)` (spec 5.1).
//!
//! CPython unpacks the request tuple and expands `*args, **kwds` itself, so
//! a malformed request fails with the `ValueError`/`TypeError` Python's
//! unpacking raises (spec 5.3); we produce the same exceptions.

use crate::args::Args;
use crate::pyexc::PyException;
use mpcluster_wire::Value;

/// One request from a client.
#[derive(Debug)]
pub struct Request {
    /// The object id (`None` on control connections).
    pub ident: Value,
    pub name: String,
    pub args: Args,
}

/// What went wrong with a request's shape. `Unpack` errors come before the
/// method is known; `Args` errors are raised "inside the call" in CPython
/// (on a serving connection they are `#ERROR`, on a control one
/// `#TRACEBACK`).
#[derive(Debug)]
pub enum BadRequest {
    Unpack(PyException),
    Name(PyException),
    Args {
        ident: Value,
        name: String,
        err: PyException,
    },
}

impl Request {
    pub fn parse(v: Value) -> Result<Request, BadRequest> {
        let items = match v {
            Value::Tuple(items) | Value::List(items) => items,
            other => {
                return Err(BadRequest::Unpack(PyException::type_error(format!(
                    "cannot unpack non-iterable {} object",
                    other.type_name()
                ))))
            }
        };
        let n = items.len();
        let [ident, name, args, kwds]: [Value; 4] = items.try_into().map_err(|_| {
            BadRequest::Unpack(PyException::value_error(if n < 4 {
                format!("not enough values to unpack (expected 4, got {n})")
            } else {
                "too many values to unpack (expected 4)".to_string()
            }))
        })?;
        let name = match name {
            Value::Str(s) => s,
            other => {
                return Err(BadRequest::Name(PyException::type_error(format!(
                    "method name must be a str, not {}",
                    other.type_name()
                ))))
            }
        };
        match parse_args(args, kwds) {
            Ok(args) => Ok(Request { ident, name, args }),
            Err(err) => Err(BadRequest::Args { ident, name, err }),
        }
    }
}

fn parse_args(args: Value, kwds: Value) -> Result<Args, PyException> {
    let pos = match args {
        Value::Tuple(items) | Value::List(items) => items,
        other => {
            return Err(PyException::type_error(format!(
                "Value after * must be an iterable, not {}",
                other.type_name()
            )))
        }
    };
    let kw = match kwds {
        Value::Dict(d) => {
            let mut kw = Vec::with_capacity(d.len());
            for (k, v) in d.into_iter() {
                match k {
                    Value::Str(s) => kw.push((s, v)),
                    _ => return Err(PyException::type_error("keywords must be strings")),
                }
            }
            kw
        }
        other => {
            return Err(PyException::type_error(format!(
                "argument after ** must be a mapping, not {}",
                other.type_name()
            )))
        }
    };
    Ok(Args { pos, kw })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(items: Vec<Value>) -> Value {
        Value::Tuple(items)
    }

    #[test]
    fn parses_a_method_call() {
        let r = Request::parse(req(vec![
            Value::from("7f"),
            Value::from("append"),
            Value::tuple([Value::Int(3)]),
            Value::Dict(Box::default()),
        ]))
        .unwrap();
        assert_eq!(r.name, "append");
        assert_eq!(r.args.pos.len(), 1);
    }

    #[test]
    fn shape_errors_match_python() {
        let e = match Request::parse(req(vec![Value::None; 3])) {
            Err(BadRequest::Unpack(e)) => e,
            _ => panic!("expected unpack error"),
        };
        assert_eq!(e.message(), "not enough values to unpack (expected 4, got 3)");
        let e = match Request::parse(Value::Int(1)) {
            Err(BadRequest::Unpack(e)) => e,
            _ => panic!("expected unpack error"),
        };
        assert_eq!(e.message(), "cannot unpack non-iterable int object");
        let e = match Request::parse(req(vec![
            Value::None,
            Value::from("dummy"),
            Value::None,
            Value::Dict(Box::default()),
        ])) {
            Err(BadRequest::Args { err, .. }) => err,
            _ => panic!("expected args error"),
        };
        assert_eq!(e.message(), "Value after * must be an iterable, not NoneType");
    }
}
