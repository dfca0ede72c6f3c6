//! End-to-end tests of the codec: values encode to exactly the bytes
//! CPython 3.11's `pickle.dumps(v, 4)` writes (the hex and SHA-256 digests
//! below were produced by CPython), and pickles decode to the expected
//! values, including the memo, cycle and shared-reference cases.
//! Per-opcode and hostile-input tests of the decoder live in
//! `decode_tests.rs`.

use super::*;
use crate::value::{Build, Dict, Object, Set};
use num_bigint::BigInt;
use sha2::{Digest, Sha256};

pub(crate) fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// Structural equality that, unlike Python's `==`, tells `1` from `1.0`
/// and `True`, compares floats by bits (so NaN equals itself) and dicts in
/// order: what a faithful round trip must preserve.
pub(crate) fn same(a: &Value, b: &Value) -> bool {
    use Value::*;
    let all =
        |x: &[Value], y: &[Value]| x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q));
    match (a, b) {
        (None, None) => true,
        (Bool(x), Bool(y)) => x == y,
        (Int(x), Int(y)) => x == y,
        (BigInt(x), BigInt(y)) => x == y,
        (Float(x), Float(y)) => x.to_bits() == y.to_bits(),
        (Complex(x), Complex(y)) => {
            x.0.to_bits() == y.0.to_bits() && x.1.to_bits() == y.1.to_bits()
        }
        (Str(x), Str(y)) => x == y,
        (Bytes(x), Bytes(y)) | (ByteArray(x), ByteArray(y)) => x == y,
        (Tuple(x), Tuple(y)) | (List(x), List(y)) => all(x, y),
        (Dict(x), Dict(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((k1, v1), (k2, v2))| same(k1, k2) && same(v1, v2))
        }
        (Set(x), Set(y)) | (FrozenSet(x), FrozenSet(y)) => {
            let (x, y): (Vec<Value>, Vec<Value>) =
                (x.iter().cloned().collect(), y.iter().cloned().collect());
            all(&x, &y)
        }
        (Global(x), Global(y)) => x == y,
        (Object(x), Object(y)) => {
            let build = match (&x.build, &y.build) {
                (
                    Build::Reduce {
                        callable: c1,
                        args: a1,
                    },
                    Build::Reduce {
                        callable: c2,
                        args: a2,
                    },
                ) => same(c1, c2) && same(a1, a2),
                (
                    Build::NewObj {
                        cls: c1,
                        args: a1,
                        kwargs: k1,
                    },
                    Build::NewObj {
                        cls: c2,
                        args: a2,
                        kwargs: k2,
                    },
                ) => {
                    same(c1, c2)
                        && same(a1, a2)
                        && match (k1, k2) {
                            (Some(p), Some(q)) => same(p, q),
                            (Option::None, Option::None) => true,
                            _ => false,
                        }
                }
                _ => false,
            };
            let pairs = x.dict_items.len() == y.dict_items.len()
                && x.dict_items
                    .iter()
                    .zip(&y.dict_items)
                    .all(|((a, b), (c, d))| same(a, c) && same(b, d));
            let state = match (&x.state, &y.state) {
                (Some(p), Some(q)) => same(p, q),
                (Option::None, Option::None) => true,
                _ => false,
            };
            build && all(&x.list_items, &y.list_items) && pairs && state
        }
        (BackRef(x), BackRef(y)) => x == y,
        _ => false,
    }
}

fn list(items: Vec<Value>) -> Value {
    Value::List(items)
}

fn ints(xs: impl IntoIterator<Item = i64>) -> Vec<Value> {
    xs.into_iter().map(Value::Int).collect()
}

fn big(s: &str) -> Value {
    Value::from_bigint(s.parse::<BigInt>().unwrap())
}

fn dict(pairs: Vec<(Value, Value)>) -> Value {
    Value::Dict(Box::new(Dict::from_pairs(pairs).unwrap()))
}

fn set(items: Vec<Value>) -> Box<Set> {
    Box::new(Set::from_values(items).unwrap())
}

fn sha(v: &Value) -> (usize, String) {
    let b = encode(v);
    (b.len(), hex::encode(Sha256::digest(&b)))
}

fn dec(data: &[u8]) -> Value {
    decode(data, &Limits::default()).unwrap()
}

#[test]
fn encodes_scalars_like_cpython() {
    let cases: Vec<(Value, &str)> = vec![
        (Value::None, "80044e2e"),
        (Value::Bool(true), "8004882e"),
        (
            list(vec![
                Value::Int(0),
                Value::Int(255),
                Value::Int(256),
                Value::Int(65535),
                Value::Int(65536),
                Value::Int(-1),
                Value::Int(i32::MAX.into()),
                Value::Int(i32::MIN.into()),
                Value::Int(1 << 31),
                Value::Int(-(1 << 31) - 1),
                Value::Int(i64::MAX),
                Value::Int(i64::MIN),
                big("9223372036854775808"),
                big("18446744073709551616"),
                big("-18446744073709551616"),
            ]),
            "80049566000000000000005d94284b004bff4d00014dffff4a000001004affffffff4affffff7f4a000000808a0500000080008a05ffffff7fff8a08ffffffffffffff7f8a0800000000000000808a090000000000000080008a090000000000000000018a090000000000000000ff652e",
        ),
        (
            list(vec![Value::Float(1.5), Value::Float(-0.0), Value::Float(f64::INFINITY)]),
            "80049520000000000000005d9428473ff8000000000000478000000000000000477ff0000000000000652e",
        ),
        (
            Value::complex(1.0, 2.0),
            "8004952e000000000000008c086275696c74696e73948c07636f6d706c6578949394473ff0000000000000474000000000000000869452942e",
        ),
        (
            list(vec!["".into(), "abc".into(), "é€😀".into()]),
            "8004951a000000000000005d94288c00948c03616263948c09c3a9e282acf09f988094652e",
        ),
        (
            list(vec![Value::Bytes(vec![]), Value::Bytes(b"ab".to_vec())]),
            "8004950d000000000000005d94284300944302616294652e",
        ),
        (
            list(vec![Value::ByteArray(vec![]), Value::ByteArray(b"ab".to_vec())]),
            "8004952c000000000000005d94288c086275696c74696e73948c096279746561727261799493942952946803430261629485945294652e",
        ),
    ];
    for (v, want) in cases {
        assert_eq!(hex::encode(encode(&v)), want, "{v:?}");
        assert!(same(&dec(&unhex(want)), &v), "decode {want}");
    }
}

#[test]
fn encodes_containers_like_cpython() {
    let t = |n: i64| Value::Tuple(ints(1..=n));
    let cases: Vec<(Value, &str)> = vec![
        (
            list(vec![Value::Tuple(vec![]), t(1), t(2), t(3), t(4)]),
            "80049523000000000000005d9428294b0185944b014b0286944b014b024b038794284b014b024b034b047494652e",
        ),
        (
            list(vec![list(vec![]), list(ints([1])), list(ints([1, 2]))]),
            "80049514000000000000005d94285d945d944b01615d94284b014b0265652e",
        ),
        (
            list(vec![
                dict(vec![]),
                dict(vec![(Value::Int(1), Value::Int(2))]),
                dict(vec![("a".into(), Value::Int(1)), ("b".into(), Value::Int(2))]),
            ]),
            "8004951e000000000000005d94287d947d944b014b02737d94288c0161944b018c0162944b0275652e",
        ),
        (
            list(vec![
                Value::Set(set(vec![])),
                Value::Set(set(ints([1]))),
                Value::FrozenSet(set(vec![])),
                Value::FrozenSet(set(ints([1]))),
            ]),
            "80049515000000000000005d94288f948f94284b0190289194284b019194652e",
        ),
        (
            Value::tuple(["#RETURN".into(), Value::None]),
            "8004950e000000000000008c072352455455524e944e86942e",
        ),
    ];
    for (v, want) in cases {
        assert_eq!(hex::encode(encode(&v)), want, "{v:?}");
        assert!(same(&dec(&unhex(want)), &v), "decode {want}");
    }
}

#[test]
fn encodes_globals_and_objects_like_cpython() {
    let key_error = Value::Object(Box::new(Object::reduce(
        Value::global("builtins", "KeyError"),
        vec!["x".into()],
    )));
    let empty = Value::Object(Box::new(Object::reduce(
        Value::global("_queue", "Empty"),
        vec![],
    )));
    let cases: Vec<(Value, &str)> = vec![
        (
            Value::tuple(["#ERROR".into(), key_error]),
            "8004952c000000000000008c06234552524f52948c086275696c74696e73948c084b65794572726f729493948c0178948594529486942e",
        ),
        (
            Value::tuple(["#ERROR".into(), empty]),
            "80049522000000000000008c06234552524f52948c065f7175657565948c05456d70747994939429529486942e",
        ),
        // A repeated global is one memo entry; a second global of the same
        // module reuses the module string.
        (
            list(vec![
                Value::global("builtins", "abs"),
                Value::global("builtins", "abs"),
                Value::global("builtins", "len"),
            ]),
            "80049524000000000000005d94288c086275696c74696e73948c03616273949394680368018c036c656e949394652e",
        ),
    ];
    for (v, want) in cases {
        assert_eq!(hex::encode(encode(&v)), want, "{v:?}");
        assert!(same(&dec(&unhex(want)), &v), "decode {want}");
    }
}

#[test]
fn protocol_5_writes_bytearray8() {
    let v = Value::ByteArray(b"ab".to_vec());
    assert_eq!(
        hex::encode(encode_protocol(&v, 5)),
        "8005950d000000000000009602000000000000006162942e"
    );
    assert_eq!(encode_protocol(&v, 2), encode(&v), "below 4 means 4");
    let (back, proto) = decode_with_protocol(&encode_protocol(&v, 5), &Limits::default()).unwrap();
    assert!(same(&back, &v));
    assert_eq!(proto, 5);
}

#[test]
fn cycles_round_trip_as_back_references() {
    // l = []; l.append(l)
    let l = dec(&unhex("80049506000000000000005d946800612e"));
    assert!(same(&l, &list(vec![Value::BackRef(0)])));
    assert_eq!(
        hex::encode(encode(&l)),
        "80049506000000000000005d946800612e"
    );
    // d = {}; d['self'] = d
    let d = dec(&unhex("8004950d000000000000007d948c0473656c66946800732e"));
    assert!(same(&d, &dict(vec![("self".into(), Value::BackRef(0))])));
    assert_eq!(
        hex::encode(encode(&d)),
        "8004950d000000000000007d948c0473656c66946800732e"
    );
    // a = []; b = [a]; a.append(b); pickle b: the inner list refers one
    // level further up.
    let nested = "80049509000000000000005d945d94680061612e";
    let b = dec(&unhex(nested));
    assert!(same(&b, &list(vec![list(vec![Value::BackRef(1)])])));
    assert_eq!(hex::encode(encode(&b)), nested);
    // t = ([],); t[0].append(t): CPython pickles t inside the list first
    // (a tuple is memoized only once built), then drops the outer copy
    // (POP, BINGET). The tree unfolds the tuple once.
    let t = dec(&unhex("8004950b000000000000005d9468008594613068012e"));
    let inner = Value::Tuple(vec![Value::BackRef(1)]);
    assert!(same(&t, &Value::Tuple(vec![list(vec![inner])])), "{t:?}");
    assert!(same(&dec(&encode(&t)), &t));
    // A shared, non-cyclic list is copied.
    let shared = dec(&unhex("8004950c000000000000005d94285d944b01616801652e"));
    assert!(same(&shared, &list(vec![list(ints([1])), list(ints([1]))])));
}

#[test]
fn module_names_are_reused_as_cpython_shares_them() {
    // pickle.dumps([complex, abs, KeyError, len], 4): builtin types share
    // one module string, builtin functions another.
    let v = list(vec![
        Value::global("builtins", "complex"),
        Value::global("builtins", "abs"),
        Value::global("builtins", "KeyError"),
        Value::global("builtins", "len"),
    ]);
    assert_eq!(
        hex::encode(encode(&v)),
        "80049548000000000000005d94288c086275696c74696e73948c07636f6d706c65789493948c086275696c74696e73948c0361627394939468018c084b65794572726f7294939468048c036c656e949394652e"
    );
}

#[test]
fn large_values_match_cpython_digests() {
    let od = Value::Object(Box::new(Object {
        build: Build::Reduce {
            callable: Value::global("collections", "OrderedDict"),
            args: Value::Tuple(vec![]),
        },
        list_items: vec![],
        dict_items: (0..1001)
            .map(|i| (Value::Int(i), Value::Str(i.to_string())))
            .collect(),
        state: None,
    }));
    let cases: Vec<(&str, Value, usize, &str)> = vec![
        (
            "list1001",
            list(ints(0..1001)),
            2765,
            "161e50d7236aad5010f0600b7c2b669804f3487bdf69c03ddfd00718d290e1be",
        ),
        (
            "list2000",
            list(ints(0..2000)),
            5762,
            "66968e242707f42b1111f2083c9f6a510781e13a017176532c821860c7148138",
        ),
        (
            "dict1000",
            dict((0..1000).map(|i| (Value::Int(i), Value::Int(i))).collect()),
            5506,
            "3c513442077cbb7aca54a07b25909cce78e32462b04a1ff7cfc7718a9cca9799",
        ),
        (
            "dict1001",
            dict((0..1001).map(|i| (Value::Int(i), Value::Int(-i))).collect()),
            7767,
            "916f25a2496533405844d71f1ffdc6ecfb5ab5fb7dea75cb8ee21fd48e1a840d",
        ),
        (
            "set1000",
            Value::Set(set(ints(0..1000))),
            2762,
            "2af590cb9a18a5c97c38b05911011a3d13861fb1a3a943738ce7419064fe4cf7",
        ),
        (
            "frozen1000",
            Value::FrozenSet(set(ints(0..1000))),
            2759,
            "152afe74c1bb5032b6cc1a11a9fedb6113bb356aa7e959b259bfd06953d15363",
        ),
        (
            "strs3000",
            list(
                (0..3000)
                    .map(|i| Value::Str(i.to_string().repeat(50)))
                    .collect(),
            ),
            553592,
            "05620f0e8e61a5c99c8f01792f7eaca8a364e03018bc5c63c7aa4b3673549507",
        ),
        (
            "big_str",
            Value::Str("y".repeat(70000)),
            70009,
            "5a3339036eaea5b61a895d443b77ac3092a5fa5e452fd63243cbc4c310b61c44",
        ),
        (
            "big_bytes",
            list(vec![Value::Bytes(vec![b'x'; 70000]), Value::Int(1)]),
            70024,
            "8cd228cbbd136773f4b205efde2063a7cacf5e305cdded16528746138a8c0447",
        ),
        (
            "big_int",
            Value::from_bigint(BigInt::from(1) << 100000),
            12518,
            "55fa3dd5b82073ed2d3d12c369cc436b69d904411ea8926cff2235126c50dce2",
        ),
        (
            "od",
            od,
            8692,
            "bfd351ffc2f5afd6669e077af558869c67b5e456ed086c3cec7babdd1f0469f1",
        ),
    ];
    for (name, v, len, digest) in cases {
        assert_eq!(sha(&v), (len, digest.to_string()), "{name}");
        assert!(same(&dec(&encode(&v)), &v), "{name} decodes back");
    }
    let ba = Value::ByteArray(vec![b'q'; 70000]);
    let b = encode_protocol(&ba, 5);
    assert_eq!(
        (b.len(), hex::encode(Sha256::digest(&b))),
        (
            70013,
            "5142af05041a44c1420b52e9ab4baf17ffc3c494235d0875d29b0ce8978c3e16".to_string()
        )
    );
}

#[test]
fn dangling_back_references_are_refused_or_written_as_none() {
    let v = Value::Tuple(vec![Value::BackRef(0)]);
    assert_eq!(
        try_encode(&v, 4),
        Err(EncodeError::DanglingBackRef { levels: 0 })
    );
    assert!(same(&dec(&encode(&v)), &Value::Tuple(vec![Value::None])));
    assert_eq!(
        try_encode(&Value::BackRef(3), 4),
        Err(EncodeError::DanglingBackRef { levels: 3 })
    );
}

#[test]
fn default_limits() {
    let l = Limits::default();
    assert_eq!(
        (l.max_depth, l.max_values, l.max_len),
        (200, 10_000_000, usize::MAX)
    );
}

#[test]
fn the_deepest_allowed_value_fits_a_small_thread_stack() {
    // Tokio worker threads have 2 MiB stacks; a value as deep as the
    // decoder ever produces must encode, decode and drop within one.
    let run = || {
        let mut v = Value::None;
        for _ in 0..MAX_DEPTH_CAP {
            v = Value::List(vec![v]);
        }
        let data = encode(&v);
        let deep = Limits {
            max_depth: MAX_DEPTH_CAP,
            ..Limits::default()
        };
        let back = decode(&data, &deep).unwrap();
        assert!(same(&back, &v));
        data.len()
    };
    let len = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(run)
        .unwrap()
        .join()
        .unwrap();
    assert!(len > 2 * MAX_DEPTH_CAP);
}
