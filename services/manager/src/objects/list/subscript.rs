//! `l[i]`, `l[i] = v`, `del l[i]` with an index or a `slice(...)` object:
//! `list_subscript`, `list_ass_subscript` and their errors. Clients iterate a
//! `ListProxy` through `__getitem__` until `IndexError`, so these decide
//! where every `for x in proxy` loop ends.

use super::List;
use crate::objects::seq::{self, Int, Subscript};
use crate::objects::CallCtx;
use crate::pyexc::PyException;
use mpcluster_wire::Value;

fn bad_index(v: &Value) -> PyException {
    PyException::type_error(format!(
        "list indices must be integers or slices, not {}",
        v.type_name()
    ))
}

fn index_error() -> PyException {
    PyException::index_error("list index out of range")
}

fn assign_index_error() -> PyException {
    PyException::index_error("list assignment index out of range")
}

impl List {
    pub(super) fn getitem(&self, key: &Value) -> Result<Value, PyException> {
        let items = self.items();
        match seq::subscript(key).ok_or_else(|| bad_index(key))? {
            Subscript::Index(Int::Fits(i)) => seq::position(i, items.len())
                .and_then(|p| items.get(p))
                .ok_or_else(index_error),
            Subscript::Index(Int::Huge(_)) => Err(seq::index_overflow()),
            Subscript::Slice(parts) => {
                let s = seq::resolve_slice(parts, items.len())?;
                Ok(Value::List(
                    s.positions().filter_map(|p| items.get(p)).collect(),
                ))
            }
        }
    }

    pub(super) fn setitem(
        &self,
        ctx: &CallCtx<'_>,
        key: &Value,
        value: Value,
    ) -> Result<(), PyException> {
        match seq::subscript(key).ok_or_else(|| bad_index(key))? {
            Subscript::Index(Int::Fits(i)) => {
                let mut items = self.items();
                let p = seq::position(i, items.len()).ok_or_else(assign_index_error)?;
                items.set(p, value);
                Ok(())
            }
            Subscript::Index(Int::Huge(_)) => Err(seq::index_overflow()),
            Subscript::Slice(parts) => {
                // The slice is checked (step zero) before the value is
                // read, and the message for a non-iterable value depends on
                // the step, as in `list_ass_subscript`.
                let step = seq::resolve_slice(parts, 0)?.step;
                let new = seq::try_iterate(ctx, &value)?.ok_or_else(|| {
                    PyException::type_error(if step == 1 {
                        "can only assign an iterable"
                    } else {
                        "must assign iterable to extended slice"
                    })
                })?;
                let mut guard = self.items();
                let s = seq::resolve_slice(parts, guard.len())?;
                let items = guard.values();
                if s.step == 1 {
                    items.splice(s.range(), new);
                    guard.settle();
                    return Ok(());
                }
                if new.len() != s.len {
                    return Err(PyException::value_error(format!(
                        "attempt to assign sequence of size {} to extended slice of size {}",
                        new.len(),
                        s.len
                    )));
                }
                for (p, v) in s.positions().zip(new) {
                    if let Some(slot) = items.get_mut(p) {
                        *slot = v;
                    }
                }
                guard.settle();
                Ok(())
            }
        }
    }

    pub(super) fn delitem(&self, key: &Value) -> Result<(), PyException> {
        let mut guard = self.items();
        match seq::subscript(key).ok_or_else(|| bad_index(key))? {
            Subscript::Index(Int::Fits(i)) => {
                let p = seq::position(i, guard.len()).ok_or_else(assign_index_error)?;
                guard.remove(p);
                Ok(())
            }
            Subscript::Index(Int::Huge(_)) => Err(seq::index_overflow()),
            Subscript::Slice(parts) => {
                let s = seq::resolve_slice(parts, guard.len())?;
                let items = guard.values();
                if s.step == 1 {
                    items.drain(s.range());
                } else {
                    let mut doomed = vec![false; items.len()];
                    for p in s.positions() {
                        if let Some(d) = doomed.get_mut(p) {
                            *d = true;
                        }
                    }
                    let mut k = 0;
                    items.retain(|_| {
                        k += 1;
                        !doomed.get(k - 1).copied().unwrap_or(false)
                    });
                }
                guard.settle();
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{list, msg, value};
    use crate::objects::seq::testing::{call, ints, raised, slice};
    use crate::pyexc::ExcKind::*;
    use crate::store::Store;
    use mpcluster_wire::Value;
    use Value::{Int as I, None as N};

    #[test]
    fn getitem_indexes_and_slices_like_python() {
        let store = Store::new(10);
        let l = list(&[1, 2, 3, 4, 5]);
        let get = |k: Value| call(&l, &store, "__getitem__", vec![k]);
        assert_eq!(get(I(0)).unwrap(), I(1));
        assert_eq!(get(I(-1)).unwrap(), I(5));
        assert_eq!(get(Value::Bool(true)).unwrap(), I(2));
        // The end of iteration for `for x in proxy` (docs/protocol.md rule 9).
        assert_eq!(
            raised(&l, &store, "__getitem__", vec![I(5)]),
            msg(IndexError, "list index out of range")
        );
        assert_eq!(
            raised(&l, &store, "__getitem__", vec![I(-6)]),
            msg(IndexError, "list index out of range")
        );
        let big = Value::from_bigint(num_bigint::BigInt::from(2).pow(70));
        assert_eq!(
            raised(&l, &store, "__getitem__", vec![big]),
            msg(IndexError, "cannot fit 'int' into an index-sized integer")
        );
        assert_eq!(
            raised(&l, &store, "__getitem__", vec!["a".into()]),
            msg(
                TypeError,
                "list indices must be integers or slices, not str"
            )
        );
        assert_eq!(get(slice(I(1), I(3), N)).unwrap(), ints(&[2, 3]));
        assert_eq!(get(slice(N, N, I(-2))).unwrap(), ints(&[5, 3, 1]));
        assert_eq!(
            get(slice(I(-100), I(100), N)).unwrap(),
            ints(&[1, 2, 3, 4, 5])
        );
        assert_eq!(
            raised(&l, &store, "__getitem__", vec![slice(N, N, I(0))]),
            msg(ValueError, "slice step cannot be zero")
        );
        assert_eq!(
            raised(&l, &store, "__getitem__", vec![]),
            msg(
                TypeError,
                "list.__getitem__() takes exactly one argument (0 given)"
            )
        );
    }

    #[test]
    fn setitem_and_delitem() {
        let store = Store::new(10);
        let l = list(&[1, 2, 3, 4, 5]);
        call(&l, &store, "__setitem__", vec![I(-1), "z".into()]).unwrap();
        assert_eq!(
            raised(&l, &store, "__setitem__", vec![I(5), N]),
            msg(IndexError, "list assignment index out of range")
        );
        // l[1:3] = 'ab' → [1, 'a', 'b', 4, 'z'] (CPython).
        call(
            &l,
            &store,
            "__setitem__",
            vec![slice(I(1), I(3), N), "ab".into()],
        )
        .unwrap();
        assert_eq!(
            value(&l),
            Value::List(vec![I(1), "a".into(), "b".into(), I(4), "z".into()])
        );
        assert_eq!(
            raised(&l, &store, "__setitem__", vec![slice(I(0), I(1), N), I(5)]),
            msg(TypeError, "can only assign an iterable")
        );
        // CPython's differential: `l[::2] = 5` and `l[::0] = 5`.
        assert_eq!(
            raised(&l, &store, "__setitem__", vec![slice(N, N, I(2)), I(5)]),
            msg(TypeError, "must assign iterable to extended slice")
        );
        assert_eq!(
            raised(&l, &store, "__setitem__", vec![slice(N, N, I(0)), I(5)]),
            msg(ValueError, "slice step cannot be zero")
        );
        assert_eq!(
            raised(
                &l,
                &store,
                "__setitem__",
                vec![slice(I(0), I(5), I(2)), ints(&[1])]
            ),
            msg(
                ValueError,
                "attempt to assign sequence of size 1 to extended slice of size 3"
            )
        );
        call(
            &l,
            &store,
            "__setitem__",
            vec![slice(N, N, I(-2)), ints(&[7, 8, 9])],
        )
        .unwrap();
        assert_eq!(
            value(&l),
            Value::List(vec![I(9), "a".into(), I(8), I(4), I(7)])
        );
        // Growing and shrinking through a plain slice.
        call(
            &l,
            &store,
            "__setitem__",
            vec![slice(I(1), I(4), N), ints(&[])],
        )
        .unwrap();
        assert_eq!(value(&l), ints(&[9, 7]));
        call(
            &l,
            &store,
            "__setitem__",
            vec![slice(I(1), I(1), N), ints(&[5, 6])],
        )
        .unwrap();
        assert_eq!(value(&l), ints(&[9, 5, 6, 7]));
        call(&l, &store, "__delitem__", vec![I(0)]).unwrap();
        assert_eq!(value(&l), ints(&[5, 6, 7]));
        call(&l, &store, "__delitem__", vec![slice(N, N, I(2))]).unwrap();
        assert_eq!(value(&l), ints(&[6]));
        assert_eq!(
            raised(&l, &store, "__delitem__", vec![I(3)]),
            msg(IndexError, "list assignment index out of range")
        );
        assert_eq!(
            raised(&l, &store, "__setitem__", vec![I(1)]),
            msg(TypeError, " expected 2 arguments, got 1")
        );
    }
}
