//! `list.sort(key=...)` with the key functions the server can evaluate
//! without running Python code.
//!
//! A client's `l.sort(key=f)` sends `f` pickled. Functions pickle by
//! reference, so `f` arrives as a bare global (`builtins len`), or, for an
//! unbound method, as `builtins.getattr(builtins.str, 'lower')`, or, for
//! `operator.itemgetter(1)`, as a reduce of `operator.itemgetter` with its
//! items (all checked with `pickletools.dis` on CPython 3.11). The supported
//! keys ([`SUPPORTED`]) are evaluated by `builtin_fns.rs`; any other key
//! (a user function, a lambda-free `functools.partial`, `attrgetter`) would
//! need Python and fails with [`OpError::NeedsPython`] naming it.
//!
//! As in CPython's `list_sort_impl`, every key is computed first (so a key
//! error is raised even for a one-item list), then the keys are sorted with
//! `<` (`ord.rs`) and the items follow their keys.

use super::builtin_fns::{py_abs, py_case, py_getitem, py_len, py_str_key, SortKeyError};
use super::builtin_num::{py_float, py_int};
use super::sort::{apply_permutation, py_sort, sorted_permutation};
use super::{Build, OpError, Value};

/// The key functions [`py_sort_by_key`] evaluates, as a client writes them.
pub const SUPPORTED: &str = "None, len, abs, str, repr, int, float, str.lower, str.upper, \
     str.casefold, bytes.lower, bytes.upper, operator.itemgetter(...)";

/// A key function the server can evaluate.
#[derive(Clone, Debug, PartialEq)]
pub enum SortKey {
    /// `key=None`: the items themselves.
    Identity,
    Len,
    Abs,
    Str,
    Repr,
    Int,
    Float,
    /// An unbound method of `str` or `bytes`: `("str", "lower")`.
    Method(&'static str, &'static str),
    /// `operator.itemgetter(*items)`: one item gives the item, several a
    /// tuple.
    ItemGetter(Vec<Value>),
}

impl SortKey {
    /// Recognises a pickled key function, or says it needs Python.
    pub fn parse(key: &Value) -> Result<SortKey, OpError> {
        let parsed = match key {
            Value::None => Some(SortKey::Identity),
            Value::Global(g) if g.module == "builtins" => match g.name.as_str() {
                "len" => Some(SortKey::Len),
                "abs" => Some(SortKey::Abs),
                "str" => Some(SortKey::Str),
                "repr" => Some(SortKey::Repr),
                "int" => Some(SortKey::Int),
                "float" => Some(SortKey::Float),
                _ => None,
            },
            Value::Object(o) => match (&o.build, o.global(), o.args()) {
                (Build::Reduce { .. }, Some(g), [Value::Global(cls), Value::Str(name)])
                    if g.is("builtins", "getattr") && cls.module == "builtins" =>
                {
                    method(&cls.name, name).map(|(c, m)| SortKey::Method(c, m))
                }
                (Build::Reduce { .. }, Some(g), items)
                    if (g.is("operator", "itemgetter") || g.is("_operator", "itemgetter"))
                        && !items.is_empty()
                        && o.state.is_none() =>
                {
                    Some(SortKey::ItemGetter(items.to_vec()))
                }
                _ => None,
            },
            _ => None,
        };
        parsed.ok_or_else(|| {
            OpError::NeedsPython(format!(
                "sort key {} needs Python code; the server supports: {SUPPORTED}",
                describe(key)
            ))
        })
    }

    /// The key of one item.
    pub fn apply(&self, item: &Value) -> Result<Value, SortKeyError> {
        match self {
            SortKey::Identity => Ok(item.clone()),
            SortKey::Len => py_len(item),
            SortKey::Abs => py_abs(item),
            SortKey::Str => py_str_key(item, false),
            SortKey::Repr => py_str_key(item, true),
            SortKey::Int => py_int(item),
            SortKey::Float => py_float(item),
            SortKey::Method(cls, m) => py_case(cls, m, item),
            SortKey::ItemGetter(idx) => match idx.as_slice() {
                [one] => py_getitem(item, one),
                many => many
                    .iter()
                    .map(|i| py_getitem(item, i))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Tuple),
            },
        }
    }
}

/// The supported unbound methods, with static names.
fn method(cls: &str, name: &str) -> Option<(&'static str, &'static str)> {
    Some(match (cls, name) {
        ("str", "lower") => ("str", "lower"),
        ("str", "upper") => ("str", "upper"),
        ("str", "casefold") => ("str", "casefold"),
        ("bytes", "lower") => ("bytes", "lower"),
        ("bytes", "upper") => ("bytes", "upper"),
        _ => return None,
    })
}

/// How an unsupported key reads in the error: `module.name`, `cls.method`
/// or `module.name(...)`.
fn describe(key: &Value) -> String {
    match key {
        Value::Global(g) => format!("{}.{}", g.module, g.name),
        Value::Object(o) => match (o.global(), o.args()) {
            (Some(g), [Value::Global(cls), Value::Str(name)]) if g.is("builtins", "getattr") => {
                format!("{}.{}", cls.name, name)
            }
            (Some(g), _) => format!("{}.{}(...)", g.module, g.name),
            (None, _) => format!("of type '{}'", o.type_name()),
        },
        other => format!("of type '{}'", other.type_name()),
    }
}

/// `list.sort(key=key, reverse=reverse)`. A key that fails leaves the items
/// unchanged; keys that cannot be compared leave them where the sort had got
/// to, as in CPython (see `sort.rs`). An unsupported key on a list of fewer than two items succeeds
/// without calling it: the order cannot change (CPython would still call
/// the key once on a single item).
pub fn py_sort_by_key(items: &mut [Value], key: &Value, reverse: bool) -> Result<(), SortKeyError> {
    let key = match SortKey::parse(key) {
        Ok(k) => k,
        Err(_) if items.len() < 2 => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if key == SortKey::Identity {
        return Ok(py_sort(items, reverse)?);
    }
    let keys = items
        .iter()
        .map(|v| key.apply(v))
        .collect::<Result<Vec<_>, _>>()?;
    // A key that fails leaves the list as it was (above); a comparison that
    // fails leaves it where the sort had got to, as in CPython.
    let (perm, result) = sorted_permutation(&keys, reverse);
    apply_permutation(items, &perm);
    Ok(result?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Dict, Object};

    fn s(x: &str) -> Value {
        Value::str(x)
    }

    fn strs(xs: &[&str]) -> Vec<Value> {
        xs.iter().map(|x| s(x)).collect()
    }

    fn method_key(cls: &str, name: &str) -> Value {
        // pickle.dumps(str.lower, 4): REDUCE builtins.getattr(builtins.str, 'lower')
        Value::Object(Box::new(Object::reduce(
            Value::global("builtins", "getattr"),
            vec![Value::global("builtins", cls), s(name)],
        )))
    }

    fn itemgetter(items: Vec<Value>) -> Value {
        Value::Object(Box::new(Object::reduce(
            Value::global("operator", "itemgetter"),
            items,
        )))
    }

    fn sorted(items: Vec<Value>, key: &Value, reverse: bool) -> Result<Vec<Value>, SortKeyError> {
        let mut v = items;
        py_sort_by_key(&mut v, key, reverse)?;
        Ok(v)
    }

    fn ints(xs: &[i64]) -> Vec<Value> {
        xs.iter().map(|&i| Value::Int(i)).collect()
    }

    /// Every expected order is CPython 3.11's `sorted(..., key=...)`.
    #[test]
    fn supported_keys_sort_as_cpython() {
        let lower = method_key("str", "lower");
        assert_eq!(
            sorted(strs(&["b", "A", "c"]), &lower, false).unwrap(),
            strs(&["A", "b", "c"])
        );
        assert_eq!(
            sorted(strs(&["a", "B", "b", "A"]), &lower, true).unwrap(),
            strs(&["B", "b", "a", "A"])
        );
        let folded = sorted(
            strs(&["Straße", "STRASSE", "strasse"]),
            &method_key("str", "casefold"),
            false,
        );
        assert_eq!(folded.unwrap(), strs(&["Straße", "STRASSE", "strasse"]));

        let lists = vec![
            Value::List(ints(&[1, 2])),
            Value::List(ints(&[3])),
            Value::List(vec![]),
        ];
        let by_len = sorted(lists, &Value::global("builtins", "len"), false).unwrap();
        assert_eq!(
            by_len,
            vec![
                Value::List(vec![]),
                Value::List(ints(&[3])),
                Value::List(ints(&[1, 2]))
            ]
        );

        assert_eq!(
            sorted(ints(&[-3, 2, -1]), &Value::global("builtins", "abs"), false).unwrap(),
            ints(&[-1, 2, -3])
        );
        assert_eq!(
            sorted(
                ints(&[10, 9, 100]),
                &Value::global("builtins", "str"),
                false
            )
            .unwrap(),
            ints(&[10, 100, 9])
        );
        assert_eq!(
            sorted(
                strs(&["10", "9", "100", " 7 "]),
                &Value::global("builtins", "int"),
                false
            )
            .unwrap(),
            strs(&[" 7 ", "9", "10", "100"])
        );

        let t = |i: i64, c: &str| Value::tuple([Value::Int(i), s(c)]);
        let pairs = vec![t(1, "b"), t(0, "a"), t(1, "a")];
        assert_eq!(
            sorted(pairs.clone(), &itemgetter(vec![Value::Int(1)]), false).unwrap(),
            vec![t(0, "a"), t(1, "a"), t(1, "b")]
        );
        assert_eq!(
            sorted(
                pairs,
                &itemgetter(vec![Value::Int(1), Value::Int(0)]),
                false
            )
            .unwrap(),
            vec![t(0, "a"), t(1, "a"), t(1, "b")]
        );
        let d = |k: i64| Value::from(Dict::from_pairs([(s("k"), Value::Int(k))]).unwrap());
        assert_eq!(
            sorted(vec![d(2), d(1)], &itemgetter(vec![s("k")]), false).unwrap(),
            vec![d(1), d(2)]
        );
        assert_eq!(
            sorted(ints(&[3, 1, 2]), &Value::None, false).unwrap(),
            ints(&[1, 2, 3])
        );
    }

    #[test]
    fn key_errors_leave_the_list_unchanged() {
        // [5].sort(key=len): the key runs even for one item.
        let e = sorted(ints(&[5]), &Value::global("builtins", "len"), false).unwrap_err();
        assert_eq!(
            e,
            SortKeyError::WrongType("object of type 'int' has no len()".into())
        );
        let mut v = vec![s("ab"), Value::Int(1)];
        let before = v.clone();
        assert!(py_sort_by_key(&mut v, &Value::global("builtins", "len"), false).is_err());
        assert_eq!(v, before);
        // Keys that cannot be ordered: sorted(['a', 'b'], key=itemgetter... )
        let mixed = vec![Value::tuple([Value::Int(1)]), Value::tuple([s("a")])];
        let e = sorted(mixed, &itemgetter(vec![Value::Int(0)]), false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "'<' not supported between instances of 'str' and 'int'"
        );
    }

    #[test]
    fn unsupported_keys_name_themselves() {
        let user = Value::global("__main__", "my_key");
        let e = sorted(ints(&[2, 1]), &user, false).unwrap_err();
        let SortKeyError::Op(OpError::NeedsPython(m)) = e else {
            panic!("{e:?}")
        };
        assert!(
            m.starts_with(
                "sort key __main__.my_key needs Python code; the server supports: None, len"
            ),
            "{m}"
        );
        let title = method_key("str", "title");
        assert!(SortKey::parse(&title)
            .unwrap_err()
            .to_string()
            .contains("sort key str.title "));
        let attr = Value::Object(Box::new(Object::reduce(
            Value::global("operator", "attrgetter"),
            vec![s("x")],
        )));
        assert!(SortKey::parse(&attr)
            .unwrap_err()
            .to_string()
            .contains("operator.attrgetter(...)"));
        // Nothing to order: an unsupported key is not needed.
        assert!(sorted(vec![], &user, false).unwrap().is_empty());
        assert_eq!(sorted(ints(&[1]), &user, false).unwrap(), ints(&[1]));
    }

    #[test]
    fn str_key_refuses_to_guess_object_reprs() {
        let o = Value::Object(Box::new(Object::new_obj(
            Value::global("m", "C"),
            vec![],
            None,
        )));
        let e = sorted(vec![o.clone(), o], &Value::global("builtins", "str"), false).unwrap_err();
        assert!(matches!(e, SortKeyError::Op(OpError::NeedsPython(_))));
    }
}
