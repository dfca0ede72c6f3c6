//! `list.sort(*, key=None, reverse=False)`: keyword-only arguments bound as
//! CPython binds them, the sort itself from the value model (`py_sort`, and
//! `py_sort_by_key` for the key functions the server can evaluate without
//! running client code).

use super::List;
use crate::args::Args;
use crate::objects::seq::{self, Int};
use crate::pyexc::{ExcKind, PyException};
use mpcluster_wire::value::{py_sort, py_sort_by_key, SortKeyError};
use mpcluster_wire::Value;

impl List {
    /// `list.sort(*, key=None, reverse=False)`.
    pub(super) fn sort(&self, args: Args) -> Result<(), PyException> {
        // Argument Clinic counts all arguments before it looks at their kind.
        let given = args.pos.len() + args.kw.len();
        if given > 2 {
            let kind = if args.pos.is_empty() { "keyword " } else { "" };
            return Err(PyException::type_error(format!(
                "sort() takes at most 2 {kind}arguments ({given} given)"
            )));
        }
        if !args.pos.is_empty() {
            return Err(PyException::type_error(
                "sort() takes no positional arguments",
            ));
        }
        let (mut key, mut reverse) = (Value::None, false);
        for (name, v) in args.kw {
            match name.as_str() {
                "key" => key = v,
                "reverse" => reverse = c_int_flag(&v)?,
                other => {
                    return Err(PyException::type_error(format!(
                        "'{other}' is an invalid keyword argument for sort()"
                    )))
                }
            }
        }
        let mut guard = self.items();
        let items = guard.values();
        let sorted = match key {
            Value::None => py_sort(items, reverse).map_err(PyException::from),
            key => py_sort_by_key(items, &key, reverse).map_err(key_error),
        };
        // A failed sort leaves the list where it stopped, packed or not.
        guard.settle();
        sorted.map(|_| ())
    }
}

/// What a sort key function raised, as the exception CPython's would.
fn key_error(e: SortKeyError) -> PyException {
    match e {
        SortKeyError::Op(op) => op.into(),
        SortKeyError::WrongType(m) => PyException::type_error(m),
        SortKeyError::BadValue(m) => PyException::value_error(m),
        SortKeyError::Overflow(m) => PyException::msg(ExcKind::OverflowError, m),
        SortKeyError::IndexOutOfRange(m) => PyException::index_error(m),
        SortKeyError::MissingKey(k) => PyException::key_error(k),
    }
}

/// A flag parsed with the C `int` converter (`sort(reverse=...)`).
fn c_int_flag(v: &Value) -> Result<bool, PyException> {
    match seq::int_of(v) {
        Some(Int::Fits(i)) if i32::try_from(i).is_ok() => Ok(i != 0),
        Some(_) => Err(PyException::msg(
            ExcKind::OverflowError,
            "Python int too large to convert to C int",
        )),
        None => Err(seq::not_an_integer(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{list, msg, value};
    use super::List;
    use crate::objects::seq::testing::{call_kw, ints};
    use crate::pyexc::ExcKind::*;
    use crate::store::Store;
    use mpcluster_wire::Value;
    use Value::{Int as I, None as N};

    #[test]
    fn sort_binds_keywords_like_list_sort() {
        let store = Store::new(10);
        let l = list(&[3, 1, 2]);
        let sort = |kw: Vec<(&str, Value)>| call_kw(&l, &store, "sort", vec![], kw).map(|_| ());
        sort(vec![("reverse", Value::Bool(true))]).unwrap();
        assert_eq!(value(&l), ints(&[3, 2, 1]));
        sort(vec![("key", N)]).unwrap();
        assert_eq!(value(&l), ints(&[1, 2, 3]));
        assert_eq!(
            call_kw(&l, &store, "sort", vec![I(1)], vec![])
                .err()
                .unwrap()
                .message(),
            "sort() takes no positional arguments"
        );
        // Too many in all is reported before their kind (Argument Clinic).
        assert_eq!(
            call_kw(
                &l,
                &store,
                "sort",
                vec![I(0)],
                vec![("key", N), ("reverse", N)]
            )
            .err()
            .unwrap()
            .message(),
            "sort() takes at most 2 arguments (3 given)"
        );
        assert_eq!(
            sort(vec![("key", N), ("reverse", N), ("a", N)])
                .unwrap_err()
                .message(),
            "sort() takes at most 2 keyword arguments (3 given)"
        );
        assert_eq!(
            sort(vec![("foo", I(1))]).unwrap_err().message(),
            "'foo' is an invalid keyword argument for sort()"
        );
        assert_eq!(
            sort(vec![("reverse", N)]).unwrap_err().message(),
            "'NoneType' object cannot be interpreted as an integer"
        );
        // key=len arrives as the global `builtins.len`.
        let words = List::new(vec!["ccc".into(), "a".into(), "bb".into()]);
        call_kw(
            &words,
            &store,
            "sort",
            vec![],
            vec![("key", Value::global("builtins", "len"))],
        )
        .unwrap();
        assert_eq!(
            value(&words),
            Value::List(vec!["a".into(), "bb".into(), "ccc".into()])
        );
        let e = call_kw(
            &l,
            &store,
            "sort",
            vec![],
            vec![("key", Value::global("builtins", "len"))],
        )
        .err()
        .unwrap();
        assert_eq!(
            (e.kind, e.message()),
            msg(TypeError, "object of type 'int' has no len()")
        );
        let mixed = List::new(vec![I(1), "a".into()]);
        let e = call_kw(&mixed, &store, "sort", vec![], vec![])
            .err()
            .unwrap();
        assert_eq!(
            e.message(),
            "'<' not supported between instances of 'str' and 'int'"
        );
        assert_eq!(value(&mixed), Value::List(vec![I(1), "a".into()]));
    }
}
