//! The pickles of the replies most calls get, encoded once per process.
//!
//! `("#RETURN", None)` answers every setter, `put`, `append`, `release`,
//! ...; `("#RETURN", True)` and `False` answer `acquire`, `wait` and the
//! like. A server copies these bytes instead of encoding the pair each
//! time, and a client recognises them with one comparison instead of
//! decoding them (the `"#RETURN"` string costs an allocation). They are
//! made by the encoder itself, so they are what it would write; a reply
//! written any other way (protocol 5, a CPython server's own pickler
//! producing other bytes) is simply decoded as usual.

use super::{encode_pair_into, DEFAULT_PROTOCOL};
use crate::Value;
use std::sync::OnceLock;

const VALUES: [Value; 3] = [Value::None, Value::Bool(true), Value::Bool(false)];

fn returns() -> &'static [Vec<u8>; 3] {
    static RETURNS: OnceLock<[Vec<u8>; 3]> = OnceLock::new();
    RETURNS.get_or_init(|| {
        VALUES.map(|v| {
            let mut out = Vec::new();
            encode_pair_into("#RETURN", &v, DEFAULT_PROTOCOL, &mut out);
            out
        })
    })
}

/// The pickle of `("#RETURN", v)` when `v` is `None`, `True` or `False`.
pub fn fixed_return(v: &Value) -> Option<&'static [u8]> {
    let i = match v {
        Value::None => 0,
        Value::Bool(true) => 1,
        Value::Bool(false) => 2,
        _ => return None,
    };
    returns().get(i).map(Vec::as_slice)
}

/// `v` when `pickle` is exactly the pickle [`fixed_return`] gives for `v`.
pub fn read_fixed_return(pickle: &[u8]) -> Option<Value> {
    let i = returns().iter().position(|p| p.as_slice() == pickle)?;
    VALUES.get(i).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pickle::{decode, encode, Limits};

    #[test]
    fn fixed_replies_are_the_encoded_pairs_and_read_back() {
        for v in VALUES {
            let pair = Value::Tuple(vec![Value::from("#RETURN"), v.clone()]);
            let bytes = fixed_return(&v).unwrap();
            assert_eq!(bytes, encode(&pair).as_slice());
            assert_eq!(read_fixed_return(bytes), Some(v.clone()));
            assert_eq!(decode(bytes, &Limits::default()).unwrap(), pair);
        }
        assert_eq!(fixed_return(&Value::Int(0)), None);
        // Another reply, or the same pair at protocol 5, is not recognised.
        let other = encode(&Value::Tuple(vec![Value::from("#RETURN"), Value::Int(1)]));
        assert_eq!(read_fixed_return(&other), None);
        let mut p5 = fixed_return(&Value::None).unwrap().to_vec();
        p5[1] = 5;
        assert_eq!(read_fixed_return(&p5), None);
        assert_eq!(read_fixed_return(b""), None);
    }
}
