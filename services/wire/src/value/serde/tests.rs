//! Tests of the serde bridge: each mapping of `mod.rs`, round trips, the
//! leniency of `from_value`, exact round trips of `Value` itself, and JSON.

use super::*;
use crate::value::{Dict, Object, Set};
use num_bigint::BigInt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Structural identity (`==` is Python's, where `1 == 1.0 == True`).
fn same(a: &Value, b: &Value) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

fn round_trip<T>(t: &T) -> T
where
    T: Serialize + serde::de::DeserializeOwned,
{
    from_value(to_value(t).unwrap()).unwrap()
}

/// Bytes through `serialize_bytes`/`deserialize_byte_buf`, as
/// `serde_bytes::ByteBuf` does.
#[derive(Debug, PartialEq)]
struct Buf(Vec<u8>);

impl Serialize for Buf {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Buf {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Buf, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Buf;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_byte_buf<E>(self, b: Vec<u8>) -> Result<Buf, E> {
                Ok(Buf(b))
            }
            fn visit_bytes<E>(self, b: &[u8]) -> Result<Buf, E> {
                Ok(Buf(b.to_vec()))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Point {
    x: i32,
    y: f64,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Job {
    name: String,
    tags: Vec<String>,
    at: Point,
    retries: Option<u8>,
    limits: BTreeMap<String, u64>,
    pair: (i64, bool),
    payload: Value,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Meters(f64);

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Pair(i32, String);

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Shape {
    Empty,
    Circle(f64),
    Rect(u32, u32),
    Named { name: String, sides: u8 },
}

#[test]
fn scalars_map_to_python_types() {
    assert!(same(&to_value(&true).unwrap(), &Value::Bool(true)));
    assert!(same(&to_value(&-5i8).unwrap(), &Value::Int(-5)));
    assert!(same(&to_value(&i64::MIN).unwrap(), &Value::Int(i64::MIN)));
    let max = to_value(&u64::MAX).unwrap();
    assert!(matches!(max, Value::BigInt(_)));
    assert_eq!(max.repr(), "18446744073709551615");
    assert!(same(
        &to_value(&(i64::MAX as u64)).unwrap(),
        &Value::Int(i64::MAX)
    ));
    assert_eq!(
        to_value(&i128::MIN).unwrap().repr(),
        "-170141183460469231731687303715884105728"
    );
    assert!(same(&to_value(&1.5f32).unwrap(), &Value::Float(1.5)));
    assert!(same(&to_value(&'é').unwrap(), &Value::str("é")));
    assert!(same(&to_value("hi").unwrap(), &Value::str("hi")));
    assert!(same(
        &to_value(&Buf(vec![0, 255])).unwrap(),
        &Value::Bytes(vec![0, 255])
    ));
    assert!(same(&to_value(&Option::<i32>::None).unwrap(), &Value::None));
    assert!(same(&to_value(&Some(3)).unwrap(), &Value::Int(3)));
    assert!(same(&to_value(&()).unwrap(), &Value::None));
    assert!(same(&to_value(&Meters(2.0)).unwrap(), &Value::Float(2.0)));
}

#[test]
fn scalars_round_trip() {
    assert_eq!(round_trip(&u64::MAX), u64::MAX);
    assert_eq!(round_trip(&i64::MIN), i64::MIN);
    assert_eq!(round_trip(&u128::MAX), u128::MAX);
    assert_eq!(round_trip(&i128::MIN), i128::MIN);
    assert_eq!(round_trip(&-0.25f64), -0.25);
    assert_eq!(round_trip(&'x'), 'x');
    assert_eq!(round_trip(&String::from("ünï")), "ünï");
    assert_eq!(
        round_trip(&Buf(b"\x00ab".to_vec())),
        Buf(b"\x00ab".to_vec())
    );
    assert_eq!(round_trip(&Some(Some(1u8))), Some(Some(1u8)));
    assert_eq!(round_trip(&Option::<String>::None), None);
    assert_eq!(round_trip(&Meters(3.5)), Meters(3.5));
    round_trip(&());
}

#[test]
fn containers_map_to_python_types() {
    assert_eq!(to_value(&vec![1, 2]).unwrap().repr(), "[1, 2]");
    assert_eq!(to_value(&(1, "a")).unwrap().repr(), "(1, 'a')");
    assert_eq!(to_value(&Pair(1, "a".into())).unwrap().repr(), "(1, 'a')");
    let mut m = HashMap::new();
    m.insert((1, 2), "x");
    assert_eq!(to_value(&m).unwrap().repr(), "{(1, 2): 'x'}");
    assert_eq!(
        to_value(&Point { x: 1, y: 2.0 }).unwrap().repr(),
        "{'x': 1, 'y': 2.0}"
    );
    assert_eq!(to_value(&Shape::Empty).unwrap().repr(), "'Empty'");
    assert_eq!(
        to_value(&Shape::Circle(1.0)).unwrap().repr(),
        "{'Circle': 1.0}"
    );
    assert_eq!(
        to_value(&Shape::Rect(2, 3)).unwrap().repr(),
        "{'Rect': (2, 3)}"
    );
    assert_eq!(
        to_value(&Shape::Named {
            name: "tri".into(),
            sides: 3
        })
        .unwrap()
        .repr(),
        "{'Named': {'name': 'tri', 'sides': 3}}"
    );
    // A key Python cannot hash.
    let mut bad = HashMap::new();
    bad.insert(vec![1], 1);
    assert_eq!(
        to_value(&bad).unwrap_err(),
        SerdeError::Op(OpError::Unhashable("list".into()))
    );
}

#[test]
fn containers_round_trip() {
    let mut hm: HashMap<String, Vec<i64>> = HashMap::new();
    hm.insert("a".into(), vec![1, -2]);
    hm.insert("b".into(), vec![]);
    assert_eq!(round_trip(&hm), hm);
    let mut bm: BTreeMap<i32, (bool, String)> = BTreeMap::new();
    bm.insert(-1, (true, "x".into()));
    assert_eq!(round_trip(&bm), bm);
    for s in [
        Shape::Empty,
        Shape::Circle(0.5),
        Shape::Rect(1, 2),
        Shape::Named {
            name: "n".into(),
            sides: 7,
        },
    ] {
        assert_eq!(round_trip(&s), s);
    }
    assert_eq!(round_trip(&Pair(9, "z".into())), Pair(9, "z".into()));
    let job = Job {
        name: "build".into(),
        tags: vec!["a".into(), "b".into()],
        at: Point { x: -1, y: 0.5 },
        retries: Some(3),
        limits: [("mem".to_string(), u64::MAX)].into_iter().collect(),
        pair: (i64::MIN, false),
        payload: Value::Set(Box::new(
            Set::from_values([Value::Int(1), Value::str("s")]).unwrap(),
        )),
    };
    let v = to_value(&job).unwrap();
    assert_eq!(
        v.repr(),
        "{'name': 'build', 'tags': ['a', 'b'], 'at': {'x': -1, 'y': 0.5}, 'retries': 3, \
         'limits': {'mem': 18446744073709551615}, 'pair': (-9223372036854775808, False), \
         'payload': {1, 's'}}"
    );
    let back: Job = from_value(v).unwrap();
    assert!(same(&back.payload, &job.payload));
    assert_eq!(back, job);
}

#[test]
fn python_leniency() {
    // Sequences from tuple, list, set, frozenset; Vec<u8> from bytes.
    let t = Value::tuple([Value::Int(1), Value::Int(2)]);
    assert_eq!(from_value::<Vec<i32>>(t).unwrap(), vec![1, 2]);
    let s = Value::FrozenSet(Box::new(Set::from_values([Value::Int(7)]).unwrap()));
    assert_eq!(from_value::<Vec<i32>>(s).unwrap(), vec![7]);
    assert_eq!(
        from_value::<Vec<u8>>(Value::Bytes(b"ab".to_vec())).unwrap(),
        b"ab"
    );
    assert_eq!(
        from_value::<Buf>(Value::ByteArray(b"ab".to_vec())).unwrap(),
        Buf(b"ab".to_vec())
    );
    assert_eq!(
        from_value::<(i32, String)>(Value::List(vec![Value::Int(1), Value::str("a")])).unwrap(),
        (1, "a".into())
    );
    // Numbers: an int where a float is expected, a bool where an int is.
    assert_eq!(from_value::<f64>(Value::Int(3)).unwrap(), 3.0);
    assert_eq!(from_value::<i64>(Value::Bool(true)).unwrap(), 1);
    // A struct from a dict, a tuple, or an object's attributes.
    assert_eq!(
        from_value::<Point>(Value::tuple([Value::Int(1), Value::Float(2.0)])).unwrap(),
        Point { x: 1, y: 2.0 }
    );
    let ns = Object::new_obj(
        Value::global("multiprocessing.managers", "Namespace"),
        vec![],
        Some(Value::from(
            Dict::from_pairs([
                (Value::str("x"), Value::Int(4)),
                (Value::str("y"), Value::Int(5)),
            ])
            .unwrap(),
        )),
    );
    assert_eq!(
        from_value::<Point>(Value::Object(Box::new(ns))).unwrap(),
        Point { x: 4, y: 5.0 }
    );
    // Unknown dict keys are ignored, as serde does by default.
    let d = Dict::from_pairs([
        (Value::str("x"), Value::Int(1)),
        (Value::str("y"), Value::Int(2)),
        (Value::str("z"), Value::None),
    ])
    .unwrap();
    assert_eq!(
        from_value::<Point>(Value::from(d)).unwrap(),
        Point { x: 1, y: 2.0 }
    );
}

#[test]
fn mismatches_name_the_python_type() {
    let err = |r: Result<(), SerdeError>| r.unwrap_err().to_string();
    assert_eq!(
        err(from_value::<i32>(Value::str("1")).map(drop)),
        "expected an int, found 'str'"
    );
    assert_eq!(
        err(from_value::<bool>(Value::Int(1)).map(drop)),
        "expected a bool, found 'int'"
    );
    assert_eq!(
        err(from_value::<String>(Value::None).map(drop)),
        "expected a str, found 'NoneType'"
    );
    assert_eq!(
        err(from_value::<f64>(Value::complex(1.0, 0.0)).map(drop)),
        "expected a float, found 'complex'"
    );
    assert_eq!(
        err(from_value::<Vec<i32>>(Value::Int(1)).map(drop)),
        "expected a sequence, found 'int'"
    );
    assert_eq!(
        err(from_value::<HashMap<String, i32>>(Value::List(vec![])).map(drop)),
        "expected a dict, found 'list'"
    );
    assert_eq!(
        err(from_value::<Buf>(Value::str("x")).map(drop)),
        "expected bytes, found 'str'"
    );
    assert_eq!(
        err(from_value::<()>(Value::Int(0)).map(drop)),
        "expected None, found 'int'"
    );
    assert_eq!(
        err(from_value::<char>(Value::str("ab")).map(drop)),
        "expected a one-character str, found a str of length 2"
    );
    assert_eq!(
        err(from_value::<u8>(Value::Int(300)).map(drop)),
        "invalid value: integer `300`, expected u8"
    );
    assert_eq!(
        err(from_value::<Shape>(Value::Int(1)).map(drop)),
        "expected a str or a one-item dict, found 'int'"
    );
    assert!(
        err(from_value::<Point>(Value::from(Dict::new())).map(drop)).contains("missing field `x`")
    );
    assert!(
        from_value::<(i32, i32)>(Value::tuple([Value::Int(1), Value::Int(2), Value::Int(3)]))
            .is_err()
    );
    let huge = Value::from_bigint(BigInt::from(10).pow(40));
    assert!(from_value::<u128>(huge.clone()).is_err());
    assert!(from_value::<f64>(Value::from_bigint(BigInt::from(10).pow(400))).is_err());
    assert_eq!(from_value::<f64>(huge).unwrap(), 1e40);
}

fn every_kind() -> Vec<Value> {
    let dict = Dict::from_pairs([
        (
            Value::tuple([Value::Int(1), Value::str("k")]),
            Value::List(vec![Value::BackRef(1)]),
        ),
        (Value::Float(2.5), Value::None),
    ])
    .unwrap();
    let mut obj = Object::reduce(
        Value::global("collections", "OrderedDict"),
        vec![Value::tuple([])],
    );
    obj.dict_items = vec![(Value::str("a"), Value::Int(1))];
    obj.list_items = vec![Value::Bool(false)];
    obj.state = Some(Value::None);
    let newobj = Object {
        build: crate::value::Build::NewObj {
            cls: Value::global("m", "C"),
            args: Value::tuple([]),
            kwargs: Some(Value::from(Dict::new())),
        },
        list_items: vec![],
        dict_items: vec![],
        state: None,
    };
    vec![
        Value::None,
        Value::Bool(true),
        Value::Int(-3),
        Value::from_bigint(BigInt::from(10).pow(50)),
        Value::from_bigint(-BigInt::from(10).pow(25)),
        Value::from_bigint(BigInt::from(u64::MAX)),
        Value::Float(-0.0),
        Value::complex(1.0, -2.0),
        Value::str("s"),
        Value::Bytes(vec![1, 2]),
        Value::ByteArray(vec![3]),
        Value::Tuple(vec![Value::Tuple(vec![]), Value::List(vec![])]),
        Value::List(vec![Value::Int(1), Value::Float(1.0)]),
        Value::from(dict),
        Value::Set(Box::new(
            Set::from_values([Value::Int(1), Value::tuple([Value::Int(2)])]).unwrap(),
        )),
        Value::FrozenSet(Box::new(Set::from_values([Value::str("f")]).unwrap())),
        Value::global("builtins", "abs"),
        Value::Object(Box::new(obj)),
        Value::Object(Box::new(newobj)),
        Value::BackRef(2),
    ]
}

#[test]
fn values_keep_their_exact_python_type_through_the_bridge() {
    for v in every_kind() {
        let there = to_value(&v).unwrap();
        assert!(same(&there, &v), "to_value: {v:?} became {there:?}");
        let back: Value = from_value(v.clone()).unwrap();
        assert!(same(&back, &v), "from_value: {v:?} became {back:?}");
        let back: Value = from_value_ref(&v).unwrap();
        assert!(same(&back, &v));
    }
    // Inside a Rust struct, too.
    #[derive(Serialize, Deserialize)]
    struct Holder {
        items: Vec<Value>,
    }
    let h = Holder {
        items: every_kind(),
    };
    let back: Holder = from_value(to_value(&h).unwrap()).unwrap();
    for (a, b) in back.items.iter().zip(&h.items) {
        assert!(same(a, b), "{a:?} vs {b:?}");
    }
}

#[test]
fn json_sees_natural_forms() {
    let v = Value::Tuple(vec![
        Value::None,
        Value::Set(Box::new(Set::from_values([Value::Int(1)]).unwrap())),
        Value::complex(1.0, 2.0),
        Value::from_bigint(BigInt::from(u64::MAX)),
        Value::from_bigint(BigInt::from(10).pow(40)),
        Value::global("builtins", "len"),
    ]);
    assert_eq!(
        serde_json::to_string(&v).unwrap(),
        "[null,[1],[1.0,2.0],18446744073709551615,\"10000000000000000000000000000000000000000\",[\"builtins\",\"len\"]]"
    );
    let back: Value =
        serde_json::from_str(r#"{"a": [1, 2.5, true, null, "x"], "b": 18446744073709551615}"#)
            .unwrap();
    assert_eq!(
        back.repr(),
        "{'a': [1, 2.5, True, None, 'x'], 'b': 18446744073709551615}"
    );
    // A JSON object key is always a string.
    assert!(serde_json::to_string(&Value::from(
        Dict::from_pairs([(Value::str("k"), Value::Int(1))]).unwrap()
    ))
    .is_ok());
}

#[test]
fn deserialize_any_views() {
    // An untyped view (serde_json::Value) of a Python value.
    let v = Value::from(
        Dict::from_pairs([
            (
                Value::str("t"),
                Value::tuple([Value::Int(1), Value::Bool(false)]),
            ),
            (Value::str("s"), Value::str("x")),
        ])
        .unwrap(),
    );
    let j: serde_json::Value = from_value(v).unwrap();
    assert_eq!(j, serde_json::json!({"t": [1, false], "s": "x"}));
    let opaque = Value::Object(Box::new(Object::new_obj(
        Value::global("m", "C"),
        vec![],
        None,
    )));
    assert_eq!(
        from_value::<serde_json::Value>(opaque)
            .unwrap_err()
            .to_string(),
        "cannot deserialize an opaque 'C' object"
    );
}

/// A `str` holding a lone surrogate survives `Value` round trips, and a
/// Rust `String` refuses it with a message that says why.
#[test]
fn strings_with_surrogates_are_values_not_rust_strings() {
    let v = Value::SurrogateStr(
        crate::value::SurrogateStr::from_surrogatepass(b"caf\xed\xb3\xa9").unwrap(),
    );
    assert!(same(&from_value::<Value>(v.clone()).unwrap(), &v));
    assert!(same(&to_value(&v).unwrap(), &v));
    let err = from_value::<String>(v).unwrap_err().to_string();
    assert!(
        err.contains("lone surrogate") && err.contains(r"'caf\udce9'"),
        "{err}"
    );
}
