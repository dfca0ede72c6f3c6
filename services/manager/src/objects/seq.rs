//! What the data kinds (`list`, `dict`, `set`, `Array`) share: CPython's
//! argument-count errors for C methods, integer and slice arguments, and
//! turning any iterable argument into items.
//!
//! The serving loop hands each object the raw `args`/`kwds` of a request;
//! the built-in methods of `list`, `dict` and `set` are C functions whose
//! `TypeError`s follow a few fixed calling conventions ([`Conv`]), and whose
//! index and slice arguments follow `PyNumber_AsSsize_t` and
//! `PySlice_Unpack`/`PySlice_AdjustIndices`. Keeping them here makes
//! `list.rs` and `array.rs` agree on every edge case.

use crate::args::Args;
use crate::pyexc::{ExcKind, PyException};
use mpcluster_wire::{Object, Value};
use num_traits::Signed;
use std::sync::{Mutex, MutexGuard};

mod iter;
#[cfg(test)]
pub(crate) mod testing;

pub use iter::{iterate, iterate_plain, try_iterate};

/// Most items one request may make the server build (`list(range(10**9))`,
/// `l * 10**9`): CPython would try and run out of memory; we refuse early.
pub const MAX_ITEMS: usize = 10_000_000;

/// Locks an object's state. A poisoned lock means a panic happened in a
/// short critical section of plain data updates; the data is still usable,
/// and refusing every later call would be worse.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// How a C-implemented method takes its arguments; each convention has its
/// own `TypeError` texts in CPython, reproduced by [`Conv::unpack`].
#[derive(Clone, Copy, Debug)]
pub enum Conv {
    /// `METH_NOARGS` (`list.reverse`): `list.reverse() takes no arguments (1 given)`.
    NoArgs(&'static str),
    /// `METH_O` (`list.append`): `list.append() takes exactly one argument (0 given)`.
    One(&'static str),
    /// Argument Clinic positional parameters (`list.pop`, `dict.get`):
    /// `pop expected at most 1 argument, got 2`. Fields: qualified name
    /// (for the keyword error), short name, min, max.
    Clinic(&'static str, &'static str, usize, usize),
    /// A slot wrapper taking `n` arguments (`__len__`, `__add__`):
    /// `expected 1 argument, got 0`.
    Slot(&'static str, usize),
    /// A slot wrapper that unpacks its arguments with an empty function
    /// name (`__setitem__`, `__setattr__`, and a sequence's `__mul__`,
    /// `__rmul__`, `__imul__`): ` expected 1 argument, got 0`, CPython's
    /// leading space and all.
    Unpack(&'static str, usize),
}

impl Conv {
    /// Checks the arguments against the convention and returns the
    /// positional ones.
    pub fn unpack(self, args: Args) -> Result<Vec<Value>, PyException> {
        let n = args.pos.len();
        let no_kw =
            |name: &str| PyException::type_error(format!("{name}() takes no keyword arguments"));
        match self {
            Conv::NoArgs(q) => {
                if !args.kw.is_empty() {
                    return Err(no_kw(q));
                }
                if n != 0 {
                    return Err(PyException::type_error(format!(
                        "{q}() takes no arguments ({n} given)"
                    )));
                }
            }
            Conv::One(q) => {
                if !args.kw.is_empty() {
                    return Err(no_kw(q));
                }
                if n != 1 {
                    return Err(PyException::type_error(format!(
                        "{q}() takes exactly one argument ({n} given)"
                    )));
                }
            }
            Conv::Clinic(q, short, min, max) => {
                if !args.kw.is_empty() {
                    return Err(no_kw(q));
                }
                check_count(short, n, min, max)?;
            }
            Conv::Slot(name, k) | Conv::Unpack(name, k) => {
                if !args.kw.is_empty() {
                    return Err(no_kw(&format!("wrapper {name}")));
                }
                if n != k {
                    let lead = if matches!(self, Conv::Unpack(..)) {
                        " "
                    } else {
                        ""
                    };
                    return Err(PyException::type_error(format!(
                        "{lead}expected {k} argument{}, got {n}",
                        plural(k)
                    )));
                }
            }
        }
        Ok(args.pos)
    }

    /// [`Conv::unpack`] for conventions taking no argument.
    pub fn none(self, args: Args) -> Result<(), PyException> {
        self.unpack(args).map(drop)
    }

    /// [`Conv::unpack`] for conventions taking exactly one argument.
    pub fn one(self, args: Args) -> Result<Value, PyException> {
        let mut it = self.unpack(args)?.into_iter();
        Ok(it.next().unwrap_or(Value::None))
    }

    /// [`Conv::unpack`] for conventions taking exactly two arguments.
    pub fn two(self, args: Args) -> Result<(Value, Value), PyException> {
        let mut it = self.unpack(args)?.into_iter();
        let a = it.next().unwrap_or(Value::None);
        Ok((a, it.next().unwrap_or(Value::None)))
    }
}

/// `_PyArg_CheckPositional`'s messages.
pub fn check_count(name: &str, n: usize, min: usize, max: usize) -> Result<(), PyException> {
    let msg = if n < min {
        let at = if min == max { "" } else { "at least " };
        format!("{name} expected {at}{min} argument{}, got {n}", plural(min))
    } else if n > max {
        let at = if min == max { "" } else { "at most " };
        format!("{name} expected {at}{max} argument{}, got {n}", plural(max))
    } else {
        return Ok(());
    };
    Err(PyException::type_error(msg))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// An `int` argument (bools included, as Python's `__index__`), with big
/// values kept only as their sign: they never fit an index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Int {
    Fits(i64),
    /// Beyond `Py_ssize_t` (64 bits here); `true` when negative.
    Huge(bool),
}

impl Int {
    /// The value clamped to `i64`, as `_PyEval_SliceIndex` clamps.
    pub fn saturate(self) -> i64 {
        match self {
            Int::Fits(i) => i,
            Int::Huge(true) => i64::MIN,
            Int::Huge(false) => i64::MAX,
        }
    }
}

/// `v` as an integer, or `None` when it is not an `int` or `bool`.
pub fn int_of(v: &Value) -> Option<Int> {
    match v {
        Value::Int(i) => Some(Int::Fits(*i)),
        Value::Bool(b) => Some(Int::Fits(*b as i64)),
        // A `BigInt` value never fits in `i64` (the value model normalises).
        Value::BigInt(b) => Some(Int::Huge(b.is_negative())),
        _ => None,
    }
}

/// `PyNumber_Index`'s `TypeError`.
pub fn not_an_integer(v: &Value) -> PyException {
    PyException::type_error(format!(
        "'{}' object cannot be interpreted as an integer",
        v.type_name()
    ))
}

/// An integer argument converted as `PyNumber_AsSsize_t(v, OverflowError)`
/// (`list.insert`, `list.pop`).
pub fn ssize(v: &Value) -> Result<i64, PyException> {
    match int_of(v) {
        Some(Int::Fits(i)) => Ok(i),
        Some(Int::Huge(_)) => Err(PyException::msg(
            ExcKind::OverflowError,
            "Python int too large to convert to C ssize_t",
        )),
        None => Err(not_an_integer(v)),
    }
}

/// The big-int failure of a subscript (`l[2**70]`): CPython's
/// `PyNumber_AsSsize_t(v, PyExc_IndexError)`.
pub fn index_overflow() -> PyException {
    PyException::index_error("cannot fit 'int' into an index-sized integer")
}

/// A repeat count (`l * n`): negative counts give an empty result, counts
/// that cannot fit are CPython's `OverflowError`.
pub fn repeat_count(v: &Value) -> Result<usize, PyException> {
    match int_of(v) {
        Some(Int::Fits(i)) => Ok(usize::try_from(i).unwrap_or(0)),
        Some(Int::Huge(true)) => Ok(0),
        Some(Int::Huge(false)) => Err(PyException::msg(
            ExcKind::OverflowError,
            "cannot fit 'int' into an index-sized integer",
        )),
        None => Err(not_an_integer(v)),
    }
}

/// Refuses to build more than [`MAX_ITEMS`] items.
pub fn check_size(n: usize) -> Result<(), PyException> {
    if n > MAX_ITEMS {
        return Err(PyException::msg(
            ExcKind::MemoryError,
            format!("the result would have {n} items; this server builds at most {MAX_ITEMS} per request"),
        ));
    }
    Ok(())
}

/// `len * count` items, refused beyond [`MAX_ITEMS`] before allocating.
pub fn repeated_len(len: usize, count: usize) -> Result<usize, PyException> {
    let total = len.saturating_mul(count);
    check_size(total)?;
    Ok(total)
}

/// A position in a sequence of `len` items from a possibly negative index,
/// `None` when out of range.
pub fn position(i: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let j = if i < 0 { i.checked_add(len)? } else { i };
    (0..len).contains(&j).then_some(j as usize)
}

/// A slice resolved against a length, as `PySlice_AdjustIndices` leaves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slice {
    pub start: i64,
    pub stop: i64,
    pub step: i64,
    /// Number of items the slice selects.
    pub len: usize,
}

impl Slice {
    /// The selected positions, in slice order.
    pub fn positions(&self) -> impl Iterator<Item = usize> {
        let (start, step) = (self.start as i128, self.step as i128);
        (0..self.len).map(move |k| (start + k as i128 * step) as usize)
    }

    /// A plain `a:b` slice (step 1) as a range of positions.
    pub fn range(&self) -> std::ops::Range<usize> {
        let start = self.start.max(0) as usize;
        start..start + self.len
    }
}

/// The `(start, stop, step)` arguments of a `builtins.slice(...)` value.
pub fn slice_parts(v: &Value) -> Option<&[Value]> {
    let o = v.as_object_of("builtins", "slice")?;
    match o.args() {
        parts @ [_, _, _] => Some(parts),
        _ => None,
    }
}

/// `PySlice_Unpack` + `PySlice_AdjustIndices` for a sequence of `len` items.
pub fn resolve_slice(parts: &[Value], len: usize) -> Result<Slice, PyException> {
    let part = |i: usize| -> Result<Option<i64>, PyException> {
        match parts.get(i) {
            None | Some(Value::None) => Ok(None),
            Some(v) => int_of(v).map(|n| Some(n.saturate())).ok_or_else(|| {
                PyException::type_error(
                    "slice indices must be integers or None or have an __index__ method",
                )
            }),
        }
    };
    let step = match part(2)? {
        None => 1,
        Some(0) => return Err(PyException::value_error("slice step cannot be zero")),
        // CPython clamps the step so that `-step` cannot overflow.
        Some(s) => s.max(-i64::MAX),
    };
    let start = part(0)?.unwrap_or(if step < 0 { i64::MAX } else { 0 });
    let stop = part(1)?.unwrap_or(if step < 0 { i64::MIN } else { i64::MAX });
    let n = len as i128;
    let adjust = |x: i64| -> i128 {
        let x = x as i128;
        if x < 0 {
            let y = x + n;
            if y < 0 {
                if step < 0 {
                    -1
                } else {
                    0
                }
            } else {
                y
            }
        } else if x >= n {
            if step < 0 {
                n - 1
            } else {
                n
            }
        } else {
            x
        }
    };
    let (start, stop) = (adjust(start), adjust(stop));
    let step_w = step as i128;
    let count = if step < 0 {
        if stop < start {
            (start - stop - 1) / -step_w + 1
        } else {
            0
        }
    } else if start < stop {
        (stop - start - 1) / step_w + 1
    } else {
        0
    };
    // All three lie within [-1, len], so they fit.
    Ok(Slice {
        start: start as i64,
        stop: stop as i64,
        step,
        len: count as usize,
    })
}

/// A subscript argument: an index or a slice object.
pub enum Subscript<'a> {
    Index(Int),
    Slice(&'a [Value]),
}

/// Classifies a subscript, or `None` when it is neither an int nor a slice.
pub fn subscript(v: &Value) -> Option<Subscript<'_>> {
    if let Some(i) = int_of(v) {
        return Some(Subscript::Index(i));
    }
    slice_parts(v).map(Subscript::Slice)
}

/// `NotImplemented`, which a binary operator returns for an operand it does
/// not handle; the client's Python then tries the reflected operator and
/// raises the `TypeError` a local object would (CPython's server sends the
/// same singleton).
pub fn not_implemented() -> Value {
    Value::global("builtins", "NotImplemented")
}

/// `builtins.<name>(*args)` as a reduce value (`builtins.list([...])`,
/// `builtins.iter([...])`), how CPython pickles views and iterators.
pub fn builtin_call(name: &str, args: Vec<Value>) -> Value {
    Value::Object(Box::new(Object::reduce(
        Value::global("builtins", name),
        args,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Sig;
    use num_bigint::BigInt;

    fn slice(a: Value, b: Value, c: Value) -> Vec<Value> {
        vec![a, b, c]
    }

    fn picks(parts: &[Value], len: usize) -> Vec<usize> {
        resolve_slice(parts, len).unwrap().positions().collect()
    }

    #[test]
    fn slices_match_python() {
        use Value::{Int as I, None as N};
        // Expected positions are `list(range(5))[s]` in CPython.
        assert_eq!(picks(&slice(I(1), I(3), N), 5), vec![1, 2]);
        assert_eq!(picks(&slice(N, N, I(-1)), 5), vec![4, 3, 2, 1, 0]);
        assert_eq!(picks(&slice(I(-100), I(100), N), 5), vec![0, 1, 2, 3, 4]);
        assert_eq!(picks(&slice(I(4), I(0), I(-2)), 5), vec![4, 2]);
        assert_eq!(picks(&slice(I(-1), I(-6), I(-2)), 5), vec![4, 2, 0]);
        assert_eq!(picks(&slice(I(3), I(1), N), 5), Vec::<usize>::new());
        let big = Value::from_bigint(BigInt::from(2).pow(70));
        let neg_big = Value::from_bigint(-BigInt::from(2).pow(70));
        assert_eq!(picks(&slice(big.clone(), N, N), 5), Vec::<usize>::new());
        assert_eq!(picks(&slice(N, N, big), 5), vec![0]);
        assert_eq!(picks(&slice(N, N, neg_big), 5), vec![4]);
        assert_eq!(picks(&slice(N, N, I(i64::MIN)), 5), vec![4]);
        assert_eq!(picks(&slice(N, N, N), 0), Vec::<usize>::new());
        let e = resolve_slice(&slice(N, N, I(0)), 5).unwrap_err();
        assert_eq!(
            (e.kind, e.message().as_str()),
            (ExcKind::ValueError, "slice step cannot be zero")
        );
        let e = resolve_slice(&slice(Value::from("a"), N, N), 5).unwrap_err();
        assert_eq!(
            e.message(),
            "slice indices must be integers or None or have an __index__ method"
        );
    }

    #[test]
    fn positions_and_counts() {
        assert_eq!(position(-1, 3), Some(2));
        assert_eq!(position(-4, 3), None);
        assert_eq!(position(3, 3), None);
        assert_eq!(position(i64::MIN, 3), None);
        assert_eq!(repeat_count(&Value::Int(-5)).unwrap(), 0);
        let big = Value::from_bigint(BigInt::from(2).pow(70));
        assert_eq!(repeat_count(&big).unwrap_err().kind, ExcKind::OverflowError);
        assert_eq!(
            repeat_count(&Value::from("a")).unwrap_err().message(),
            "'str' object cannot be interpreted as an integer"
        );
        assert_eq!(
            repeated_len(10, 1 << 40).unwrap_err().kind,
            ExcKind::MemoryError
        );
        assert_eq!(
            repeated_len(usize::MAX, 2).unwrap_err().kind,
            ExcKind::MemoryError
        );
    }

    #[test]
    fn conventions_give_cpython_messages() {
        let msg = |c: Conv, n: usize| {
            c.unpack(Args::new(vec![Value::None; n]))
                .unwrap_err()
                .message()
        };
        assert_eq!(
            msg(Conv::NoArgs("list.reverse"), 1),
            "list.reverse() takes no arguments (1 given)"
        );
        assert_eq!(
            msg(Conv::One("list.append"), 0),
            "list.append() takes exactly one argument (0 given)"
        );
        assert_eq!(
            msg(Conv::Clinic("list.index", "index", 1, 3), 0),
            "index expected at least 1 argument, got 0"
        );
        assert_eq!(
            msg(Conv::Clinic("list.insert", "insert", 2, 2), 1),
            "insert expected 2 arguments, got 1"
        );
        assert_eq!(
            msg(Conv::Clinic("list.pop", "pop", 0, 1), 2),
            "pop expected at most 1 argument, got 2"
        );
        assert_eq!(
            msg(Conv::Slot("__len__", 0), 1),
            "expected 0 arguments, got 1"
        );
        assert_eq!(
            msg(Conv::Unpack("__setitem__", 2), 1),
            " expected 2 arguments, got 1"
        );
        assert_eq!(
            msg(Conv::Unpack("__imul__", 1), 0),
            " expected 1 argument, got 0"
        );
        let kw = Args {
            pos: vec![],
            kw: vec![("x".into(), Value::None)],
        };
        assert_eq!(
            Conv::Slot("__len__", 0)
                .unpack(kw.clone())
                .unwrap_err()
                .message(),
            "wrapper __len__() takes no keyword arguments"
        );
        assert_eq!(
            Conv::Clinic("list.pop", "pop", 0, 1)
                .unpack(kw)
                .unwrap_err()
                .message(),
            "list.pop() takes no keyword arguments"
        );
        assert_eq!(
            Conv::One("x")
                .unpack(Args::new(vec![Value::Int(1)]))
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn python_methods_count_self() {
        // CPython 3.11: Value('i', 1).get(1), Value('i', 1, True, 2).
        let get = Sig::py("Value.get", &[], 0);
        let e = Args::new(vec![Value::None]).bind(&get).unwrap_err();
        assert_eq!(
            e.message(),
            "Value.get() takes 1 positional argument but 2 were given"
        );
        let init = Sig::py("Value.__init__", &["typecode", "value", "lock"], 2);
        let e = Args::new(vec![Value::None; 4]).bind(&init).unwrap_err();
        assert_eq!(
            e.message(),
            "Value.__init__() takes from 3 to 4 positional arguments but 5 were given"
        );
        let e = Args::new(vec![Value::None]).bind(&init).unwrap_err();
        assert_eq!(
            e.message(),
            "Value.__init__() missing 1 required positional argument: 'value'"
        );
    }
}
