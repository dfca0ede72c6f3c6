//! The arguments of `Lock.acquire`/`RLock.acquire(blocking=True,
//! timeout=-1)`, bound and checked exactly as CPython 3.11's C
//! `lock_acquire_parse_args` does, messages included, since a client sees
//! them as its own exceptions.

use crate::args::Args;
use crate::pyexc::{ExcKind, PyException};
use mpcluster_wire::Value;

/// What an `acquire` call asked for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Mode {
    Try,
    Forever,
    For(f64),
}

/// CPython's "unset" timeout, `-1` second, in nanoseconds.
const UNSET_NS: f64 = -1e9;
/// `_PyTime_t` is an `i64` of nanoseconds.
const MAX_NS: f64 = 9.223_372_036_854_776e18;

/// Binds `acquire(blocking=True, timeout=-1)` like CPython 3.11's C
/// `lock_acquire_parse_args` (`"|iO:acquire"`), with its messages.
pub(super) fn parse_acquire(args: Args) -> Result<Mode, PyException> {
    const PARAMS: [&str; 2] = ["blocking", "timeout"];
    let given = args.pos.len() + args.kw.len();
    if given > 2 {
        return Err(PyException::type_error(format!(
            "acquire() takes at most 2 arguments ({given} given)"
        )));
    }
    let npos = args.pos.len();
    let mut slots: [Option<Value>; 2] = [None, None];
    for (slot, v) in slots.iter_mut().zip(args.pos) {
        *slot = Some(v);
    }
    for (name, v) in args.kw {
        let Some(i) = PARAMS.iter().position(|p| *p == name) else {
            return Err(PyException::type_error(format!(
                "'{name}' is an invalid keyword argument for acquire()"
            )));
        };
        if i < npos {
            return Err(PyException::type_error(format!(
                "argument for acquire() given by name ('{name}') and position ({})",
                i + 1
            )));
        }
        // `i` is 0 or 1, found in the two-element `PARAMS`.
        slots[i] = Some(v);
    }
    let [blocking, timeout] = slots;
    let blocking = match blocking {
        None => true,
        Some(v) => c_int(&v)? != 0,
    };
    // Converted first, as `_PyTime_FromSecondsObject` runs before the checks.
    let ns = match timeout {
        None => UNSET_NS,
        Some(v) => timeout_ns(&v)?,
    };
    let unset = ns == UNSET_NS;
    if !blocking && !unset {
        return Err(PyException::value_error(
            "can't specify a timeout for a non-blocking call",
        ));
    }
    if ns < 0.0 && !unset {
        // 3.8-3.12 wording; 3.13 says "must be a non-negative number".
        return Err(PyException::value_error("timeout value must be positive"));
    }
    Ok(if !blocking {
        Mode::Try
    } else if unset {
        Mode::Forever
    } else {
        Mode::For(ns / 1e9)
    })
}

/// The `i` format unit: an int that fits a C `int`.
fn c_int(v: &Value) -> Result<i64, PyException> {
    let over = |negative: bool| {
        PyException::msg(
            ExcKind::OverflowError,
            if negative {
                "signed integer is less than minimum"
            } else {
                "signed integer is greater than maximum"
            },
        )
    };
    match v {
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Int(i) if *i > i64::from(i32::MAX) => Err(over(false)),
        Value::Int(i) if *i < i64::from(i32::MIN) => Err(over(true)),
        Value::Int(i) => Ok(*i),
        Value::BigInt(b) => Err(over(b.sign() == num_bigint::Sign::Minus)),
        other => Err(PyException::type_error(format!(
            "'{}' object cannot be interpreted as an integer",
            other.type_name()
        ))),
    }
}

/// `_PyTime_FromSecondsObject(..., _PyTime_ROUND_TIMEOUT)`: seconds to
/// nanoseconds rounded away from zero, with CPython's errors.
fn timeout_ns(v: &Value) -> Result<f64, PyException> {
    let too_large = || {
        PyException::msg(
            ExcKind::OverflowError,
            "timestamp too large to convert to C _PyTime_t",
        )
    };
    let ns = match v {
        Value::Float(f) if f.is_nan() => {
            return Err(PyException::value_error("Invalid value NaN (not a number)"))
        }
        Value::Float(f) => {
            let ns = f * 1e9;
            if ns.abs() >= MAX_NS {
                return Err(PyException::msg(
                    ExcKind::OverflowError,
                    "timestamp out of range for platform time_t",
                ));
            }
            if ns < 0.0 {
                ns.floor()
            } else {
                ns.ceil()
            }
        }
        Value::Int(i) => {
            let ns = *i as f64 * 1e9;
            if ns.abs() >= MAX_NS {
                return Err(too_large());
            }
            ns
        }
        Value::Bool(b) => f64::from(u8::from(*b)) * 1e9,
        Value::BigInt(_) => return Err(too_large()),
        other => {
            return Err(PyException::type_error(format!(
                "'{}' object cannot be interpreted as an integer",
                other.type_name()
            )))
        }
    };
    Ok(ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Value {
        Value::Bool(true)
    }

    fn f() -> Value {
        Value::Bool(false)
    }

    fn assert_err(r: Result<Mode, PyException>, kind: ExcKind, message: &str) {
        let e = r.expect_err("accepted");
        assert_eq!((e.kind, e.message().as_str()), (kind, message));
    }

    #[test]
    fn acquire_arguments_follow_cpython() {
        let acq = |pos: Vec<Value>| parse_acquire(Args::new(pos));
        assert_err(
            acq(vec![f(), Value::Int(1)]),
            ExcKind::ValueError,
            "can't specify a timeout for a non-blocking call",
        );
        assert_err(
            acq(vec![t(), Value::Int(-2)]),
            ExcKind::ValueError,
            "timeout value must be positive",
        );
        assert_err(
            acq(vec![t(), Value::Float(-1.5)]),
            ExcKind::ValueError,
            "timeout value must be positive",
        );
        assert_err(
            acq(vec![t(), Value::str("x")]),
            ExcKind::TypeError,
            "'str' object cannot be interpreted as an integer",
        );
        assert_err(
            acq(vec![Value::Float(1.5)]),
            ExcKind::TypeError,
            "'float' object cannot be interpreted as an integer",
        );
        assert_err(
            acq(vec![Value::Int(1 << 40)]),
            ExcKind::OverflowError,
            "signed integer is greater than maximum",
        );
        assert_err(
            acq(vec![t(), Value::Float(f64::NAN)]),
            ExcKind::ValueError,
            "Invalid value NaN (not a number)",
        );
        assert_err(
            acq(vec![t(), Value::Float(1e10)]),
            ExcKind::OverflowError,
            "timestamp out of range for platform time_t",
        );
        assert_err(
            acq(vec![t(), Value::Int(9_223_372_037)]),
            ExcKind::OverflowError,
            "timestamp too large to convert to C _PyTime_t",
        );
        assert_err(
            acq(vec![t(), t(), t()]),
            ExcKind::TypeError,
            "acquire() takes at most 2 arguments (3 given)",
        );
        let kw = |kw: Vec<(&str, Value)>, pos: Vec<Value>| {
            let args = Args {
                pos,
                kw: kw.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            };
            parse_acquire(args)
        };
        assert_eq!(
            kw(vec![("foo", t())], vec![]).unwrap_err().message(),
            "'foo' is an invalid keyword argument for acquire()"
        );
        assert_eq!(
            kw(vec![("blocking", t())], vec![t()])
                .unwrap_err()
                .message(),
            "argument for acquire() given by name ('blocking') and position (1)"
        );
        assert_eq!(
            kw(vec![("timeout", Value::Float(0.5))], vec![]).unwrap(),
            Mode::For(0.5)
        );
        // -1 is "no timeout", also when not blocking; CPython rounds
        // -0.9999999999 s to -1 s.
        assert_eq!(
            kw(vec![], vec![t(), Value::Int(-1)]).unwrap(),
            Mode::Forever
        );
        assert_eq!(kw(vec![], vec![f(), Value::Int(-1)]).unwrap(), Mode::Try);
        assert_eq!(
            kw(vec![], vec![t(), Value::Float(-0.999_999_999_9)]).unwrap(),
            Mode::Forever
        );
        assert_eq!(kw(vec![], vec![Value::Int(0)]).unwrap(), Mode::Try);
    }
}
