//! `repr` of bare globals and opaque objects.
//!
//! The server knows some classes by their pickled form and prints them as
//! their own `__repr__` would in CPython 3.11: exceptions (`KeyError('x')`,
//! `BaseException.__repr__`), `range`, `slice`, `array.array` (decoding the
//! machine values), `collections.deque`/`OrderedDict`, `decimal.Decimal`,
//! and the `multiprocessing.managers` values a manager hands out
//! (`Namespace(a=1)`, `Value('i', 5)`, `Token(...)`, proxies). Anything else
//! prints as CPython's default `<module.Class object at 0x...>` without the
//! address, and clears the writer's `exact` flag: a user class may define
//! its own `__repr__`, which the server cannot run.
//!
//! Globals print as `<class 'int'>`, `<class 'mod.C'>`, `<built-in function
//! abs>` or `<function f>` after the guess of `names.rs`.

use super::names::{global_kind, is_exception_class, object_class, short_name, GlobalKind};
use super::repr::{Frame, Writer};
use super::{Build, Global, Object, Value};

pub(crate) fn write_global(w: &mut Writer<'_>, g: &Global) {
    let text = match global_kind(g) {
        GlobalKind::Class if g.module == "builtins" => format!("<class '{}'>", g.name),
        GlobalKind::Class => format!("<class '{}.{}'>", g.module, g.name),
        GlobalKind::BuiltinFunction => format!("<built-in function {}>", short_name(&g.name)),
        GlobalKind::Function => {
            // CPython adds ` at 0x...`, an address the server cannot know.
            w.exact = false;
            format!("<function {}>", g.name)
        }
    };
    w.push(&text);
}

/// Writes `o` (the caller has pushed the object's own frame).
pub(crate) fn write_object(w: &mut Writer<'_>, o: &Object) {
    if let Some(hook) = w.hook() {
        if let Some(text) = hook(o) {
            w.exact = false;
            w.push(&text);
            return;
        }
    }
    let done = match (&o.build, o.global()) {
        (Build::Reduce { .. }, Some(g)) => write_reduced(w, o, g),
        (Build::NewObj { .. }, Some(g)) => write_new_obj(w, o, g),
        _ => false,
    };
    if !done {
        write_default(w, o);
    }
}

/// `<module.Class object>`: CPython's `object.__repr__` minus the address.
fn write_default(w: &mut Writer<'_>, o: &Object) {
    w.exact = false;
    let text = match object_class(o) {
        Some(g) if g.module == "builtins" => format!("<{} object>", g.name),
        Some(g) => format!("<{}.{} object>", g.module, g.name),
        None => "<object>".to_string(),
    };
    w.push(&text);
}

/// Objects built by `callable(*args)`. Returns false when not recognised.
fn write_reduced(w: &mut Writer<'_>, o: &Object, g: &Global) -> bool {
    let args = o.args();
    if is_exception_class(g) {
        // BaseException_repr: `Name(arg)` for one argument, else
        // `Name` + repr(args).
        w.push(short_name(&g.name));
        w.push("(");
        w.within(&[Frame::Tuple], |w| w.items(args));
        w.push(")");
        return true;
    }
    match (g.module.as_str(), g.name.as_str(), args) {
        ("builtins", "range", [start, stop, step]) => {
            // range_repr omits a step of 1.
            w.push("range(");
            w.within(&[Frame::Tuple], |w| {
                w.items([start, stop]);
                if !matches!(step, Value::Int(1)) {
                    w.push(", ");
                    w.value(step);
                }
            });
            w.push(")");
            true
        }
        ("builtins", "slice", [_, _, _]) => {
            w.push("slice(");
            w.within(&[Frame::Tuple], |w| w.items(args));
            w.push(")");
            true
        }
        ("builtins", "bytearray", [Value::Bytes(b)]) => {
            w.bytearray_repr(b);
            true
        }
        ("builtins", "list", [Value::List(items) | Value::Tuple(items)]) => {
            w.push("[");
            w.within(&[Frame::Tuple, Frame::List], |w| w.items(items));
            w.push("]");
            true
        }
        ("builtins", "getattr", [Value::Global(cls), Value::Str(name)]) => {
            // A method of a built-in type, e.g. `str.lower`.
            w.exact = false;
            w.push(&format!(
                "<method '{name}' of '{}' objects>",
                short_name(&cls.name)
            ));
            true
        }
        ("builtins", "reversed", _) => {
            w.exact = false;
            w.push("<list_reverseiterator object>");
            true
        }
        ("builtins", "iter", _) => {
            w.exact = false;
            w.push("<list_iterator object>");
            true
        }
        ("decimal", "Decimal", [Value::Str(_)]) => {
            w.push("Decimal(");
            w.within(&[Frame::Tuple], |w| w.items(args));
            w.push(")");
            true
        }
        ("collections", "deque", _) => write_deque(w, o, args),
        ("collections", "OrderedDict", []) if o.list_items.is_empty() => {
            // CPython 3.11 prints `OrderedDict([(k, v), ...])`.
            if o.dict_items.is_empty() {
                w.push("OrderedDict()");
                return true;
            }
            w.push("OrderedDict([");
            for (i, (k, v)) in o.dict_items.iter().enumerate() {
                if w.full() {
                    break;
                }
                if i > 0 {
                    w.push(", ");
                }
                // Items are direct children of the object (no level of
                // their own for `BackRef` counting, as `pickle/convert.rs`).
                w.push("(");
                w.items([k, v]);
                w.push(")");
            }
            w.push("])");
            true
        }
        ("array", "array", _) | ("array", "_array_reconstructor", _) => {
            super::repr_array::write_array(w, g, args)
        }
        ("multiprocessing.managers", "RebuildProxy", [func, token, ..]) => {
            write_proxy(w, func, token)
        }
        _ => false,
    }
}

/// `deque([1, 2])` or `deque([1], maxlen=3)`: pickled as
/// `deque((), maxlen)` followed by `APPENDS`.
fn write_deque(w: &mut Writer<'_>, o: &Object, args: &[Value]) -> bool {
    let maxlen = match args {
        [] | [_] => None,
        [_, Value::None] => None,
        [_, m @ Value::Int(_)] => Some(m),
        _ => return false,
    };
    w.push("deque([");
    w.items(&o.list_items);
    w.push("]");
    if let Some(m) = maxlen {
        w.push(", maxlen=");
        w.value(m);
    }
    w.push(")");
    true
}

/// `BaseProxy.__repr__`: `<ListProxy object, typeid 'list' at 0x...>`.
fn write_proxy(w: &mut Writer<'_>, func: &Value, token: &Value) -> bool {
    let Some((typeid, _, id)) = token_fields(token) else {
        return false;
    };
    let class = match func {
        Value::Global(g) if g.name == "AutoProxy" => format!("AutoProxy[{}]", typeid.py_str()),
        Value::Global(g) => short_name(&g.name).to_string(),
        _ => return false,
    };
    w.exact = false;
    w.push(&format!("<{class} object, typeid "));
    w.value(typeid);
    // CPython shows the address of the proxy rebuilt in the server; the
    // referent's id is our stand-in for it.
    match id.as_str() {
        Some(id) => w.push(&format!(" at 0x{id}>")),
        None => w.push(">"),
    }
    true
}

/// `(typeid, address, id)` of a pickled `multiprocessing.managers.Token`
/// (`NEWOBJ Token` + `BUILD (typeid, address, id)`).
fn token_fields(v: &Value) -> Option<(&Value, &Value, &Value)> {
    let o = v.as_object_of("multiprocessing.managers", "Token")?;
    token_fields_of_state(o.state.as_ref()?)
}

/// Objects built by `cls.__new__(cls, *args)` and `BUILD state`.
fn write_new_obj(w: &mut Writer<'_>, o: &Object, g: &Global) -> bool {
    if g.module != "multiprocessing.managers" {
        return false;
    }
    match (g.name.as_str(), &o.state) {
        ("Namespace", Some(Value::Dict(d))) => {
            // Namespace.__repr__ sorts the `name=repr` strings themselves.
            let mut parts: Vec<String> = Vec::new();
            w.within(&[Frame::Dict], |w| {
                for (k, v) in d.iter() {
                    if let Value::Str(name) = k {
                        if !name.starts_with('_') {
                            parts.push(format!("{name}={}", w.sub_repr(v)));
                        }
                    }
                }
            });
            parts.sort();
            w.push("Namespace(");
            w.push(&parts.join(", "));
            w.push(")");
            true
        }
        ("Value", Some(Value::Dict(d))) => {
            let (Ok(Some(tc)), Ok(Some(v))) = (
                d.get(&Value::str("_typecode")),
                d.get(&Value::str("_value")),
            ) else {
                return false;
            };
            w.push("Value(");
            w.within(&[Frame::Dict], |w| w.items([tc, v]));
            w.push(")");
            true
        }
        ("Token", Some(state)) => {
            let Some((typeid, address, id)) = token_fields_of_state(state) else {
                return false;
            };
            w.within(&[Frame::Tuple], |w| {
                w.push("Token(typeid=");
                w.value(typeid);
                w.push(", address=");
                w.value(address);
                w.push(", id=");
                w.value(id);
                w.push(")");
            });
            true
        }
        _ => false,
    }
}

fn token_fields_of_state(state: &Value) -> Option<(&Value, &Value, &Value)> {
    match state {
        Value::Tuple(t) => match t.as_slice() {
            [typeid, address, id] => Some((typeid, address, id)),
            _ => None,
        },
        _ => None,
    }
}

/// `str(exc)` for an exception object: `BaseException_str` (nothing for no
/// argument, `str(arg)` for one, `str(args)` for more) and `KeyError_str`
/// (`repr(arg)` for one argument). Returns false when `o` is not an
/// exception.
pub(crate) fn write_exception_str(w: &mut Writer<'_>, o: &Object) -> bool {
    let (Build::Reduce { .. }, Some(g)) = (&o.build, o.global()) else {
        return false;
    };
    if !is_exception_class(g) {
        return false;
    }
    match o.args() {
        [] => {}
        [arg] if g.is("builtins", "KeyError") => w.value(arg),
        [arg] => write_str(w, arg),
        args => w.within(&[Frame::Tuple], |w| {
            w.push("(");
            w.items(args);
            w.push(")");
        }),
    }
    true
}

/// `str(v)` inside an exception message.
fn write_str(w: &mut Writer<'_>, v: &Value) {
    match v {
        Value::Str(s) => w.push(s),
        Value::Object(o) => w.within(&[Frame::Tuple, Frame::Object], |w| {
            if !write_exception_str(w, o) {
                write_object(w, o);
            }
        }),
        _ => w.value(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::repr::repr_exact;
    use crate::value::Dict;

    fn reduce(module: &str, name: &str, args: Vec<Value>) -> Value {
        Value::Object(Box::new(Object::reduce(Value::global(module, name), args)))
    }

    fn new_obj(module: &str, name: &str, state: Option<Value>) -> Value {
        Value::Object(Box::new(Object::new_obj(
            Value::global(module, name),
            vec![],
            state,
        )))
    }

    fn dict(pairs: Vec<(&str, Value)>) -> Value {
        Value::from(Dict::from_pairs(pairs.into_iter().map(|(k, v)| (Value::str(k), v))).unwrap())
    }

    fn i(n: i64) -> Value {
        Value::Int(n)
    }

    /// Every expected string was printed by CPython 3.11 for the value the
    /// pickle describes.
    #[test]
    fn known_objects_print_as_cpython() {
        let cases: Vec<(Value, &str)> = vec![
            (
                reduce("builtins", "KeyError", vec!["x".into()]),
                "KeyError('x')",
            ),
            (reduce("builtins", "KeyError", vec![]), "KeyError()"),
            (
                reduce("builtins", "ValueError", vec![i(1), i(2)]),
                "ValueError(1, 2)",
            ),
            (reduce("_queue", "Empty", vec![]), "Empty()"),
            (
                reduce("builtins", "range", vec![i(0), i(3), i(1)]),
                "range(0, 3)",
            ),
            (
                reduce("builtins", "range", vec![i(1), i(10), i(2)]),
                "range(1, 10, 2)",
            ),
            (
                reduce("builtins", "slice", vec![i(1), i(3), Value::None]),
                "slice(1, 3, None)",
            ),
            (
                reduce("builtins", "slice", vec![Value::None, i(-1), i(2)]),
                "slice(None, -1, 2)",
            ),
            (
                reduce("builtins", "bytearray", vec![Value::Bytes(b"ab".to_vec())]),
                "bytearray(b'ab')",
            ),
            (
                reduce(
                    "builtins",
                    "list",
                    vec![Value::List(vec![i(1), "a".into()])],
                ),
                "[1, 'a']",
            ),
            (
                reduce("decimal", "Decimal", vec!["1.5".into()]),
                "Decimal('1.5')",
            ),
            (
                new_obj(
                    "multiprocessing.managers",
                    "Namespace",
                    Some(dict(vec![
                        ("ab", i(1)),
                        ("a", i(2)),
                        ("_x", i(3)),
                        ("a_b", i(4)),
                    ])),
                ),
                // Namespace sorts the "name=value" strings: 'a=' < 'a_' < 'ab'.
                "Namespace(a=2, a_b=4, ab=1)",
            ),
            (
                new_obj("multiprocessing.managers", "Namespace", Some(dict(vec![]))),
                "Namespace()",
            ),
            (
                new_obj(
                    "multiprocessing.managers",
                    "Value",
                    Some(dict(vec![("_typecode", "i".into()), ("_value", i(5))])),
                ),
                "Value('i', 5)",
            ),
            (
                new_obj(
                    "multiprocessing.managers",
                    "Token",
                    Some(Value::tuple([
                        "list".into(),
                        Value::tuple(["127.0.0.1".into(), i(5000)]),
                        "7f00".into(),
                    ])),
                ),
                "Token(typeid='list', address=('127.0.0.1', 5000), id='7f00')",
            ),
        ];
        for (v, want) in cases {
            assert_eq!(v.repr(), want, "{v:?}");
            assert_eq!(repr_exact(&v).as_deref(), Some(want));
        }
    }

    #[test]
    fn collections() {
        let mut dq = Object::reduce(
            Value::global("collections", "deque"),
            vec![Value::tuple([])],
        );
        dq.list_items = vec![i(1), i(2)];
        assert_eq!(Value::Object(Box::new(dq)).repr(), "deque([1, 2])");
        let mut dq = Object::reduce(
            Value::global("collections", "deque"),
            vec![Value::tuple([]), i(3)],
        );
        dq.list_items = vec![i(1)];
        assert_eq!(Value::Object(Box::new(dq)).repr(), "deque([1], maxlen=3)");
        let mut od = Object::reduce(Value::global("collections", "OrderedDict"), vec![]);
        assert_eq!(Value::Object(Box::new(od.clone())).repr(), "OrderedDict()");
        od.dict_items = vec![("a".into(), i(1))];
        assert_eq!(
            Value::Object(Box::new(od)).repr(),
            "OrderedDict([('a', 1)])"
        );
    }

    #[test]
    fn guesses_are_marked_inexact() {
        let dt = reduce(
            "datetime",
            "datetime",
            vec![Value::Bytes(vec![7, 232, 1, 2])],
        );
        assert_eq!(dt.repr(), "<datetime.datetime object>");
        assert_eq!(repr_exact(&dt), None);
        let user = Value::Object(Box::new(Object::reduce(
            Value::global("copyreg", "_reconstructor"),
            vec![
                Value::global("__main__", "Point"),
                Value::global("builtins", "object"),
                Value::None,
            ],
        )));
        assert_eq!(user.repr(), "<__main__.Point object>");
        assert_eq!(Value::global("__main__", "work").repr(), "<function work>");
        assert_eq!(repr_exact(&Value::global("__main__", "work")), None);
        let lower = reduce(
            "builtins",
            "getattr",
            vec![Value::global("builtins", "str"), "lower".into()],
        );
        assert_eq!(lower.repr(), "<method 'lower' of 'str' objects>");
        let token = new_obj(
            "multiprocessing.managers",
            "Token",
            Some(Value::tuple([
                "dict".into(),
                Value::tuple(["h".into(), i(1)]),
                "1a".into(),
            ])),
        );
        let proxy = reduce(
            "multiprocessing.managers",
            "RebuildProxy",
            vec![
                Value::global("multiprocessing.managers", "DictProxy"),
                token.clone(),
                "pickle".into(),
                dict(vec![]),
            ],
        );
        assert!(proxy
            .repr()
            .starts_with("<DictProxy object, typeid 'dict' at 0x"));
        let auto = reduce(
            "multiprocessing.managers",
            "RebuildProxy",
            vec![
                Value::global("multiprocessing.managers", "AutoProxy"),
                token,
                "pickle".into(),
                dict(vec![]),
            ],
        );
        assert!(auto
            .repr()
            .starts_with("<AutoProxy[dict] object, typeid 'dict' at 0x"));
    }

    #[test]
    fn exception_str() {
        // str(...) in CPython 3.11.
        let cases: Vec<(Value, &str)> = vec![
            (reduce("builtins", "KeyError", vec!["x".into()]), "'x'"),
            (reduce("builtins", "KeyError", vec![]), ""),
            (reduce("builtins", "ValueError", vec!["msg".into()]), "msg"),
            (reduce("builtins", "ValueError", vec![i(1), i(2)]), "(1, 2)"),
            (
                reduce(
                    "builtins",
                    "ValueError",
                    vec![reduce("builtins", "KeyError", vec!["k".into()])],
                ),
                "'k'",
            ),
            (reduce("builtins", "StopIteration", vec![]), ""),
            (
                reduce("builtins", "range", vec![i(0), i(3), i(1)]),
                "range(0, 3)",
            ),
        ];
        for (v, want) in cases {
            assert_eq!(v.py_str(), want, "{v:?}");
        }
    }

    #[test]
    fn namespace_holding_itself() {
        // ns.me = ns: the BackRef points at the Namespace object two levels
        // up (its state dict, then the object).
        let ns = new_obj(
            "multiprocessing.managers",
            "Namespace",
            Some(dict(vec![("me", Value::BackRef(1))])),
        );
        assert_eq!(ns.repr(), "Namespace(me=...)");
    }
}
