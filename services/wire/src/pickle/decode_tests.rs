//! Tests of the decoder (`decode.rs`): CPython's output at every protocol,
//! each opcode family, the memo's live-object semantics, every error, and
//! property tests that random and mutated input never panics.

use super::super::tests::{same, unhex};
use super::super::*;
use crate::value::{Build, Dict, Object, Set};
use proptest::prelude::*;
use std::time::{Duration, Instant};

fn dec(data: &[u8]) -> Result<Value, PickleError> {
    decode(data, &Limits::default())
}

fn ok(data: &[u8]) -> Value {
    dec(data).unwrap_or_else(|e| panic!("{e} for {}", String::from_utf8_lossy(data)))
}

/// `pickle.dumps(V, p)` for p in 0..=5, V being the value of [`expected`].
const EVERY_PROTOCOL: [&str; 6] = [
    "286c70300a4e614930310a614930300a6149310a61492d350a61493330300a614937303030300a614c313039393531313632373737364c0a6146312e350a61566162630a70310a6156e90a70320a61635f636f646563730a656e636f64650a70330a285661620a70340a566c6174696e310a70350a7470360a5270370a61635f5f6275696c74696e5f5f0a6279746561727261790a70380a2867330a285663640a70390a67350a747031300a527031310a747031320a527031330a612849310a49320a747031340a6128647031350a566b0a7031360a49310a7361635f5f6275696c74696e5f5f0a7365740a7031370a28286c7031380a49330a61747031390a527032300a61635f5f6275696c74696e5f5f0a66726f7a656e7365740a7032310a28286c7032320a49340a61747032330a527032340a61635f5f6275696c74696e5f5f0a636f6d706c65780a7032350a2846312e300a46322e300a747032360a527032370a61635f5f6275696c74696e5f5f0a6162730a7032380a612e",
    "5d7100284e4930310a4930300a4b014afbffffff4d2c014a701101004c313039393531313632373737364c0a473ff8000000000000580300000061626371015802000000c3a97102635f636f646563730a656e636f64650a71032858020000006162710458060000006c6174696e317105747106527107635f5f6275696c74696e5f5f0a6279746561727261790a710828680328580200000063647109680574710a52710b74710c52710d284b014b0274710e7d710f58010000006b71104b0173635f5f6275696c74696e5f5f0a7365740a7111285d71124b0361747113527114635f5f6275696c74696e5f5f0a66726f7a656e7365740a7115285d71164b0461747117527118635f5f6275696c74696e5f5f0a636f6d706c65780a711928473ff000000000000047400000000000000074711a52711b635f5f6275696c74696e5f5f0a6162730a711c652e",
    "80025d7100284e88894b014afbffffff4d2c014a701101008a06000000000001473ff8000000000000580300000061626371015802000000c3a97102635f636f646563730a656e636f64650a710358020000006162710458060000006c6174696e317105867106527107635f5f6275696c74696e5f5f0a6279746561727261790a71086803580200000063647109680586710a52710b85710c52710d4b014b0286710e7d710f58010000006b71104b0173635f5f6275696c74696e5f5f0a7365740a71115d71124b0361857113527114635f5f6275696c74696e5f5f0a66726f7a656e7365740a71155d71164b0461857117527118635f5f6275696c74696e5f5f0a636f6d706c65780a7119473ff000000000000047400000000000000086711a52711b635f5f6275696c74696e5f5f0a6162730a711c652e",
    "80035d7100284e88894b014afbffffff4d2c014a701101008a06000000000001473ff8000000000000580300000061626371015802000000c3a97102430261627103636275696c74696e730a6279746561727261790a71044302636471058571065271074b014b028671087d710958010000006b710a4b0173636275696c74696e730a7365740a710b5d710c4b036185710d52710e636275696c74696e730a66726f7a656e7365740a710f5d71104b0461857111527112636275696c74696e730a636f6d706c65780a7113473ff0000000000000474000000000000000867114527115636275696c74696e730a6162730a7116652e",
    "800495ab000000000000005d94284e88894b014afbffffff4d2c014a701101008a06000000000001473ff80000000000008c03616263948c02c3a99443026162948c086275696c74696e73948c096279746561727261799493944302636494859452944b014b0286947d948c016b944b01738f94284b0390284b04919468048c07636f6d706c6578949394473ff0000000000000474000000000000000869452948c086275696c74696e73948c03616273949394652e",
    "8005959e000000000000005d94284e88894b014afbffffff4d2c014a701101008a06000000000001473ff80000000000008c03616263948c02c3a99443026162949602000000000000006364944b014b0286947d948c016b944b01738f94284b0390284b0491948c086275696c74696e73948c07636f6d706c6578949394473ff0000000000000474000000000000000869452948c086275696c74696e73948c03616273949394652e",
];

/// `[None, True, False, 1, -5, 300, 70000, 2**40, 1.5, 'abc', 'é', b'ab',
/// bytearray(b'cd'), (1, 2), {'k': 1}, {3}, frozenset([4]), 1+2j, abs]`
fn expected() -> Value {
    let mut d = Dict::new();
    d.insert("k".into(), Value::Int(1)).unwrap();
    Value::List(vec![
        Value::None,
        Value::Bool(true),
        Value::Bool(false),
        Value::Int(1),
        Value::Int(-5),
        Value::Int(300),
        Value::Int(70000),
        Value::Int(1 << 40),
        Value::Float(1.5),
        "abc".into(),
        "é".into(),
        Value::Bytes(b"ab".to_vec()),
        Value::ByteArray(b"cd".to_vec()),
        Value::tuple([Value::Int(1), Value::Int(2)]),
        Value::Dict(Box::new(d)),
        Value::Set(Box::new(Set::from_values([Value::Int(3)]).unwrap())),
        Value::FrozenSet(Box::new(Set::from_values([Value::Int(4)]).unwrap())),
        Value::complex(1.0, 2.0),
        Value::global("builtins", "abs"),
    ])
}

#[test]
fn cpython_output_of_every_protocol() {
    for (p, hex) in EVERY_PROTOCOL.iter().enumerate() {
        let (v, proto) = decode_with_protocol(&unhex(hex), &Limits::default()).unwrap();
        assert!(same(&v, &expected()), "protocol {p}: {v:?}");
        assert_eq!(usize::from(proto), if p < 2 { 0 } else { p });
    }
    // Re-encoding gives exactly what CPython writes at protocol 4 for the
    // loaded value.
    let p4 = unhex(EVERY_PROTOCOL[4]);
    for hex in EVERY_PROTOCOL {
        assert_eq!(encode(&ok(&unhex(hex))), p4);
    }
}

#[test]
fn protocol_0_text_forms() {
    assert!(same(&ok(b"I01\n."), &Value::Bool(true)));
    assert!(same(&ok(b"I-7\n."), &Value::Int(-7)));
    assert!(same(
        &ok(b"L12345678901234567890L\n."),
        &Value::from_bigint("12345678901234567890".parse().unwrap())
    ));
    assert!(same(&ok(b"F-2.5\n."), &Value::Float(-2.5)));
    assert!(same(&ok(b"S'a\\nb'\n."), &"a\nb".into()));
    assert!(same(&ok(b"U\x02ab."), &"ab".into()));
    assert!(same(&ok(b"T\x02\x00\x00\x00ab."), &"ab".into()));
    assert!(same(&ok(b"Vx\\u20ac\n."), &"x\u{20ac}".into()));
    assert!(same(
        &ok(b"(I1\nI2\nl."),
        &Value::List(vec![Value::Int(1), Value::Int(2)])
    ));
    assert!(same(
        &ok(b"(I1\nI2\nt."),
        &Value::tuple([Value::Int(1), Value::Int(2)])
    ));
    let d = ok(b"(S'a'\nI1\nd.");
    assert!(same(
        &d,
        &Value::Dict(Box::new(
            Dict::from_pairs([("a".into(), Value::Int(1))]).unwrap()
        ))
    ));
    // PUT and GET by text index; `exceptions` is Python 2's module name.
    let v = ok(b"(lp7\ncexceptions\nKeyError\np8\nag8\na.");
    let ke = Value::global("builtins", "KeyError");
    assert!(same(&v, &Value::List(vec![ke.clone(), ke])));
}

#[test]
fn inst_and_obj() {
    let reduce = |args: Vec<Value>| {
        Value::Object(Box::new(Object::reduce(Value::global("mymod", "C"), args)))
    };
    let new = Value::Object(Box::new(Object::new_obj(
        Value::global("mymod", "C"),
        vec![],
        None,
    )));
    assert!(same(&ok(b"(S'a'\nimymod\nC\n."), &reduce(vec!["a".into()])));
    assert!(same(&ok(b"(imymod\nC\n."), &new));
    assert!(same(
        &ok(b"(cmymod\nC\nI1\no."),
        &reduce(vec![Value::Int(1)])
    ));
    assert!(same(&ok(b"(cmymod\nC\no."), &new));
    // INST then BUILD, as Python 2 wrote instances.
    let with_state = ok(b"(imymod\nC\n(dS'x'\nI1\nsb.");
    let Value::Object(o) = with_state else {
        panic!()
    };
    assert!(matches!(&o.state, Some(Value::Dict(d)) if d.len() == 1));
}

#[test]
fn stack_opcodes() {
    assert!(same(&ok(b"N0K\x01."), &Value::Int(1)));
    assert!(same(&ok(b"(NN1K\x02."), &Value::Int(2)));
    assert!(same(
        &ok(b"K\x052\x86."),
        &Value::tuple([Value::Int(5), Value::Int(5)])
    ));
    // POP with a mark on top removes the mark (`load_pop`).
    assert!(same(&ok(b"(0K\x01."), &Value::Int(1)));
    assert_eq!(
        dec(b"(0)t."),
        Err(PickleError::MarkMissing {
            opcode: "TUPLE",
            offset: 3
        })
    );
}

#[test]
fn memo_holds_live_objects() {
    // L = []; memo0 = L; T = (L,); memo1 = T; pop; L.append(5); pop;
    // GET 1: T must show the item appended after T was built.
    let v = ok(b"\x80\x04]\x94h\x00\x85\x940K\x05a0h\x01.");
    assert!(same(
        &v,
        &Value::Tuple(vec![Value::List(vec![Value::Int(5)])])
    ));
}

#[test]
fn objects_collect_items_and_state() {
    // NEWOBJ_EX with kwargs; then APPENDS, SETITEM and BUILD onto it.
    let data = b"\x80\x04\x8c\x01m\x8c\x01C\x93)}\x92(K\x01K\x02eK\x03K\x04s}b.";
    let Value::Object(o) = ok(data) else { panic!() };
    assert!(matches!(
        &o.build,
        Build::NewObj {
            kwargs: Some(Value::Dict(_)),
            ..
        }
    ));
    assert!(same(
        &Value::List(o.list_items.clone()),
        &Value::List(vec![Value::Int(1), Value::Int(2)])
    ));
    assert_eq!(o.dict_items.len(), 1);
    assert!(matches!(&o.state, Some(Value::Dict(d)) if d.is_empty()));
    let v = Value::Object(o);
    assert!(same(&ok(&encode(&v)), &v));
}

#[test]
fn python_2_names_are_mapped_below_protocol_3_only() {
    let p2 = ok(b"\x80\x02c__builtin__\nset\n]\x85R.");
    assert!(matches!(p2, Value::Set(_)));
    let p4 = ok(b"\x80\x04\x8c\x0b__builtin__\x8c\x03set\x93.");
    assert!(same(&p4, &Value::global("__builtin__", "set")));
}

fn err(data: &[u8]) -> PickleError {
    match dec(data) {
        Err(e) => e,
        Ok(v) => panic!("decoded {v:?} from {}", String::from_utf8_lossy(data)),
    }
}

#[test]
fn malformed_input_errors() {
    use PickleError::*;
    assert_eq!(err(b""), Truncated { offset: 0 });
    assert_eq!(err(b"\x80\x04N"), Truncated { offset: 3 });
    assert_eq!(err(b"\x80"), Truncated { offset: 1 });
    assert_eq!(err(b"I12"), Truncated { offset: 3 });
    assert_eq!(
        err(b"\x80\x04\xff."),
        UnknownOpcode {
            byte: 0xff,
            offset: 2
        }
    );
    assert_eq!(err(b"\x80\x06N."), UnsupportedProtocol(6));
    assert!(matches!(
        err(b"\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00N."),
        LengthBeyondData { declared: 255, .. }
    ));
    assert!(matches!(
        err(b"\x8e\xff\xff\xff\xff\xff\xff\xff\xffab."),
        LengthBeyondData {
            declared: u64::MAX,
            available: 3,
            ..
        }
    ));
    assert!(
        matches!(err(b"T\xff\xff\xff\xffab."), BadOperand { .. }),
        "negative length"
    );
    assert_eq!(
        err(b"h\x05."),
        BadMemo {
            index: 5,
            offset: 0
        }
    );
    assert_eq!(
        err(b"g9\n."),
        BadMemo {
            index: 9,
            offset: 0
        }
    );
    assert_eq!(
        err(b"."),
        StackUnderflow {
            opcode: "STOP",
            offset: 0
        }
    );
    assert_eq!(
        err(b"\x86."),
        StackUnderflow {
            opcode: "TUPLE2",
            offset: 0
        }
    );
    assert_eq!(
        err(b"N(N\x86."),
        StackUnderflow {
            opcode: "TUPLE2",
            offset: 3
        },
        "fenced by MARK"
    );
    assert_eq!(
        err(b"(."),
        StackUnderflow {
            opcode: "STOP",
            offset: 1
        }
    );
    assert_eq!(
        err(b"Na."),
        StackUnderflow {
            opcode: "APPEND",
            offset: 1
        }
    );
    assert_eq!(
        err(b"t."),
        MarkMissing {
            opcode: "TUPLE",
            offset: 0
        }
    );
    assert_eq!(
        err(b"]e."),
        MarkMissing {
            opcode: "APPENDS",
            offset: 1
        }
    );
    assert!(matches!(
        err(b"P1\n."),
        Unsupported {
            what: "a persistent id",
            ..
        }
    ));
    assert!(matches!(
        err(b"NQ."),
        Unsupported {
            what: "a persistent id",
            ..
        }
    ));
    assert!(matches!(
        err(b"\x82\x01."),
        Unsupported {
            what: "an extension registry code",
            ..
        }
    ));
    assert!(matches!(
        err(b"\x97."),
        Unsupported {
            what: "an out-of-band buffer",
            ..
        }
    ));
    assert!(matches!(
        err(b"N\x98."),
        Unsupported {
            what: "an out-of-band buffer",
            ..
        }
    ));
    assert!(matches!(
        err(b"\x8c\x01\xff."),
        InvalidUtf8 {
            opcode: "SHORT_BINUNICODE",
            ..
        }
    ));
    assert!(matches!(
        err(b"\x8c\x04\xed\xa0\x80\xff."),
        InvalidUtf8 {
            opcode: "SHORT_BINUNICODE",
            ..
        }
    ));
    assert!(matches!(
        err(b"c\xed\xa0\x80\nx\n."),
        LoneSurrogate {
            opcode: "GLOBAL",
            ..
        }
    ));
    assert!(matches!(err(b"Ix\n."), BadText { opcode: "INT", .. }));
    assert!(
        matches!(err(b"U\x01\xe9."), BadText { .. }),
        "non-ASCII byte string"
    );
    assert!(matches!(
        err(b"cmod\n\xff\n."),
        InvalidUtf8 {
            opcode: "GLOBAL",
            ..
        }
    ));
}

#[test]
fn operands_of_the_wrong_kind() {
    use PickleError::*;
    let reason = |data: &[u8]| match err(data) {
        BadOperand { reason, .. } => reason,
        other => panic!("{other:?}"),
    };
    assert_eq!(reason(b"NNR."), "REDUCE arguments must be a tuple");
    assert_eq!(reason(b"N]\x81."), "NEWOBJ expected an arg tuple");
    assert_eq!(
        reason(b"})N\x92."),
        "NEWOBJ_EX kwargs argument must be a dict"
    );
    assert_eq!(reason(b"NN\x93."), "STACK_GLOBAL requires str");
    assert_eq!(reason(b"}Na."), "cannot append to a dict");
    assert_eq!(reason(b"]NNs."), "cannot set items on a list");
    assert_eq!(reason(b"](N\x90."), "cannot add items to a list");
    assert_eq!(reason(b"]Nb."), "BUILD on a list, which has no state");
    assert_eq!(reason(b"}(Nu."), "odd number of items for SETITEMS");
    assert_eq!(reason(b"cm\nC\n)RNbNb."), "a second BUILD on one object");
    // REDUCE builtins.complex gives a complex, which has no state either.
    assert_eq!(
        reason(b"cbuiltins\ncomplex\n)RNb."),
        "BUILD on a complex, which has no state"
    );
}

#[test]
fn unhashable_keys_and_members() {
    assert_eq!(
        err(b"}]Ns."),
        PickleError::Unhashable {
            type_name: "list".into()
        }
    );
    assert_eq!(
        err(b"\x8f(]\x90."),
        PickleError::Unhashable {
            type_name: "list".into()
        }
    );
    assert_eq!(
        err(b"(}\x91."),
        PickleError::Unhashable {
            type_name: "dict".into()
        }
    );
    // A tuple of hashables is a fine key.
    assert!(matches!(ok(b"}K\x01\x85Ns."), Value::Dict(_)));
}

#[test]
fn limits_on_length_and_depth() {
    let tight = Limits {
        max_len: 4,
        ..Limits::default()
    };
    assert!(matches!(
        decode(b"C\x05hello.", &tight),
        Err(PickleError::TooLong {
            declared: 5,
            limit: 4,
            ..
        })
    ));
    assert!(decode(b"C\x04hell.", &tight).is_ok());

    let nested = |n: usize| {
        let mut d = vec![b']'; n];
        d.extend(std::iter::repeat_n(b'a', n - 1));
        d.push(b'.');
        d
    };
    assert!(dec(&nested(200)).is_ok());
    assert_eq!(
        dec(&nested(201)),
        Err(PickleError::DepthExceeded { limit: 200 })
    );
    let deep = Limits {
        max_depth: 1_000_000,
        ..Limits::default()
    };
    assert_eq!(
        decode(&nested(5000), &deep),
        Err(PickleError::DepthExceeded {
            limit: MAX_DEPTH_CAP
        })
    );
    let t = Instant::now();
    assert!(matches!(
        dec(&nested(100_000)),
        Err(PickleError::DepthExceeded { .. })
    ));
    let mut marks = vec![b'('; 100_000];
    marks.push(b'.');
    assert!(matches!(
        dec(&marks),
        Err(PickleError::StackUnderflow { .. })
    ));
    assert!(t.elapsed() < Duration::from_secs(5));
}

/// `a0 = [1]; a1 = [a0, a0]; …`: `levels` doublings in a few bytes each.
fn bomb(levels: u32) -> Vec<u8> {
    let mut d = b"\x80\x04]K\x01a\x94".to_vec();
    for i in 0..levels {
        d.extend_from_slice(b"](");
        for _ in 0..2 {
            d.push(op_get(i));
            d.extend_from_slice(&i.to_le_bytes()[..if i < 256 { 1 } else { 4 }]);
        }
        d.extend_from_slice(b"e\x94");
    }
    d.push(b'.');
    d
}

fn op_get(i: u32) -> u8 {
    if i < 256 {
        b'h'
    } else {
        b'j'
    }
}

#[test]
fn shared_reference_bombs_are_refused_fast() {
    let t = Instant::now();
    let budget = |b: &[u8]| Limits::default().value_budget(b.len());
    let b60 = bomb(60);
    assert_eq!(
        dec(&b60),
        Err(PickleError::TooManyValues {
            limit: budget(&b60)
        })
    );
    let b300 = bomb(300);
    assert_eq!(
        dec(&b300),
        Err(PickleError::TooManyValues {
            limit: budget(&b300)
        })
    );
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // Small ones are fine and expand fully: 2**10 leaves.
    let Value::List(top) = ok(&bomb(10)) else {
        panic!()
    };
    assert_eq!(top.len(), 2);
    // Copies of a big shared string are charged by size.
    let mut d = b"\x80\x04X\x00\x00\x10\x00".to_vec();
    d.extend(std::iter::repeat_n(b'x', 1 << 20));
    d.extend_from_slice(b"\x94](");
    d.extend(std::iter::repeat_n(*b"h\x00", 1000).flatten());
    d.extend_from_slice(b"e.");
    let small = Limits {
        max_values: 1_000_000,
        values_per_byte: usize::MAX,
        ..Limits::default()
    };
    assert_eq!(
        decode(&d, &small),
        Err(PickleError::TooManyValues { limit: 1_000_000 })
    );
    assert!(
        decode(&d, &Limits::default()).is_err(),
        "1000 copies of 1 MiB is 32M units"
    );
}

#[test]
fn a_small_pickle_cannot_expand_past_its_size_bound() {
    // `None` wrapped 22 times in `(x, x)` with DUP: 48 bytes, 2^22 leaves
    // as a tree. CPython's unpickler shares the 22 tuples; a tree copy
    // would cost hundreds of MB, so it is refused by the size bound long
    // before `max_values`.
    let mut d = b"\x80\x04N".to_vec();
    for _ in 0..22 {
        d.extend_from_slice(b"2\x86");
    }
    d.push(b'.');
    let limit = Limits::default().value_budget(d.len());
    assert!(limit < 100_000, "{limit}");
    assert_eq!(dec(&d), Err(PickleError::TooManyValues { limit }));
    // A few levels fit the budget and expand as before.
    let mut d = b"\x80\x04N".to_vec();
    for _ in 0..4 {
        d.extend_from_slice(b"2\x86");
    }
    d.push(b'.');
    assert!(dec(&d).is_ok());
}

#[test]
fn a_pickle_without_shared_references_never_meets_the_size_bound() {
    // One byte per value (`N`): the cheapest a tree can be on the wire.
    let n = 2_000_000;
    let mut d = b"\x80\x04](".to_vec();
    d.extend(std::iter::repeat_n(b'N', n));
    d.extend_from_slice(b"e.");
    let Ok(Value::List(items)) = dec(&d) else {
        panic!("refused")
    };
    assert_eq!(items.len(), n);
}

#[test]
fn budget_counts_nodes_and_values() {
    let ten = b"](K\x01K\x02K\x03K\x04K\x05K\x06K\x07K\x08K\x09K\x0ae.";
    assert!(dec(ten).is_ok());
    let tight = Limits {
        max_values: 15,
        ..Limits::default()
    };
    assert_eq!(
        decode(ten, &tight),
        Err(PickleError::TooManyValues { limit: 15 })
    );
}

/// Decodes, and when that works, checks the value re-encodes (strictly:
/// the decoder never produces a dangling back-reference) to a pickle that
/// decodes to the same value.
fn check_round_trip(data: &[u8]) {
    let limits = Limits {
        max_values: 200_000,
        ..Limits::default()
    };
    check_paths_agree(data, &limits);
    check_paths_agree(
        data,
        &Limits {
            max_depth: 2,
            max_values: 12,
            max_len: 3,
            ..Limits::default()
        },
    );
    if let Ok(v) = decode(data, &limits) {
        let again = try_encode(&v, 4).expect("decoded values always encode");
        let back = decode(&again, &Limits::default()).expect("our own output decodes");
        assert!(same(&back, &v), "{v:?} became {back:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        check_round_trip(&data);
        let mut framed = b"\x80\x04".to_vec();
        framed.extend_from_slice(&data);
        check_round_trip(&framed);
    }

    #[test]
    fn mutated_pickles_never_panic(
        which in 0..EVERY_PROTOCOL.len(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let mut data = unhex(EVERY_PROTOCOL[which]);
        for (at, byte) in edits {
            let i = at % data.len();
            data[i] = byte;
        }
        check_round_trip(&data);
        data.truncate(cut % (data.len() + 1));
        check_round_trip(&data);
    }
}

/// Small trees take the recursive conversion, larger ones the walk: both
/// must give the same values, depth errors and unhashable-key errors.
#[test]
fn small_and_large_trees_convert_alike() {
    fn nested(depth: usize, pad: usize) -> Value {
        let mut v = Value::List((0..pad as i64).map(Value::Int).collect());
        for i in 0..depth {
            let mut d = Dict::new();
            d.insert(Value::from(format!("k{i}")), v).unwrap();
            v = Value::Tuple(vec![Value::Dict(Box::new(d)), Value::Set(Box::default())]);
        }
        v
    }
    for pad in [0, 100] {
        // 2 containers per level plus the innermost list.
        let v = nested(5, pad);
        let data = encode(&v);
        let limits = |d| Limits {
            max_depth: d,
            ..Limits::default()
        };
        assert!(same(&decode(&data, &limits(11)).unwrap(), &v), "pad {pad}");
        assert_eq!(
            decode(&data, &limits(10)),
            Err(PickleError::DepthExceeded { limit: 10 }),
            "pad {pad}"
        );
    }
    // `{[]: 1}` as a pickle (EMPTY_DICT, EMPTY_LIST, K 1, SETITEM), alone
    // and inside a list padded with 100 items.
    let small = unhex("80047d945d944b0173942e");
    assert!(matches!(dec(&small), Err(PickleError::Unhashable { .. })));
    // [{[]: 1}, None * 100]: EMPTY_LIST, MARK, the dict, NONE x100,
    // APPENDS, STOP.
    let mut big = unhex("80045d94287d945d944b017394");
    big.extend(std::iter::repeat_n(0x4e, 100));
    big.extend(unhex("652e"));
    let e = dec(&big);
    assert!(matches!(e, Err(PickleError::Unhashable { .. })), "{e:?}");
}

/// What the fast path (`fast.rs`) decodes, the full machine decodes to the
/// same value and protocol: the fast path may only give up, never differ.
fn check_paths_agree(data: &[u8], limits: &Limits) {
    if let Some((v, proto)) = fast::decode(data, limits) {
        let full = decode_full(data, limits);
        let Ok((w, full_proto)) = full else {
            panic!("fast path accepted what the full machine refuses: {full:?} for {data:02x?}");
        };
        assert!(same(&v, &w), "fast {v:?} vs full {w:?}");
        assert_eq!(proto, full_proto);
    }
}

/// Requests and replies as CPython 3.11 pickles them take the fast path.
#[test]
fn cpython_requests_and_replies_take_the_fast_path() {
    // ('7f3a9c', 'append', (1, 'x', [1.5, None, True], {'k': b'v',
    // 'n': -2**40}, {3, 4}, frozenset([5]), ()), {})
    let request = unhex("8004955600000000000000288c06376633613963948c06617070656e6494284b018c0178945d9428473ff80000000000004e88657d94288c016b94430176948c016e948a060000000000ff758f94284b034b0490284b0591942974947d9474942e");
    // ('#RETURN', [1, 'a', {'b': (2.5, None)}])
    let reply = unhex("8004952a000000000000008c072352455455524e945d94284b018c0161947d948c0162944740040000000000004e8694736586942e");
    for data in [&request, &reply] {
        let (v, proto) = fast::decode(data, &Limits::default()).expect("a plain tree");
        assert_eq!(proto, 4);
        assert!(same(&v, &dec(data).unwrap()));
    }
    let Value::Tuple(items) = fast::decode(&request, &Limits::default()).unwrap().0 else {
        panic!("a tuple");
    };
    assert_eq!(items[1], Value::from("append"));
    // ('x', 'x'): the second 'x' is a memo GET, so the full machine runs.
    let shared = unhex("80049509000000000000008c017894680086942e");
    assert!(fast::decode(&shared, &Limits::default()).is_none());
    assert!(same(
        &dec(&shared).unwrap(),
        &Value::Tuple(vec![Value::from("x"), Value::from("x")])
    ));
}

/// Every pickle of `EVERY_PROTOCOL`, whole and cut short, under default
/// and tight limits.
#[test]
fn fast_and_full_paths_agree_on_cpython_pickles() {
    for hex in EVERY_PROTOCOL {
        let data = unhex(hex);
        for cut in 0..=data.len() {
            check_round_trip(&data[..cut]);
        }
    }
}

fn has_bytearray(v: &Value) -> bool {
    match v {
        Value::ByteArray(_) => true,
        Value::Tuple(items) | Value::List(items) => items.iter().any(has_bytearray),
        Value::Dict(d) => d.iter().any(|(k, v)| has_bytearray(k) || has_bytearray(v)),
        _ => false,
    }
}

fn plain_tree() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<f64>().prop_map(Value::Float),
        "[a-zé€𝄞]{0,6}".prop_map(|s| Value::from(s.as_str())),
        proptest::collection::vec(any::<u8>(), 0..5).prop_map(Value::Bytes),
        proptest::collection::vec(any::<u8>(), 0..5).prop_map(Value::ByteArray),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Tuple),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            proptest::collection::vec(("[a-c]{0,2}", inner.clone()), 0..5).prop_map(|kv| {
                let pairs = kv.into_iter().map(|(k, v)| (Value::from(k.as_str()), v));
                Value::Dict(Box::new(Dict::from_pairs(pairs).unwrap()))
            }),
            // Unhashable members are possible: both paths must refuse.
            proptest::collection::vec(inner, 0..4).prop_map(|items| {
                let mut d = Dict::new();
                for (i, v) in items.into_iter().enumerate() {
                    d.insert(Value::Int(i as i64), v).unwrap();
                }
                Value::Dict(Box::new(d))
            }),
            proptest::collection::vec(any::<i16>(), 0..5).prop_map(|m| {
                Value::Set(Box::new(
                    Set::from_values(m.into_iter().map(|i| Value::Int(i.into()))).unwrap(),
                ))
            }),
            proptest::collection::vec("[xy]{0,2}", 0..4).prop_map(|m| {
                Value::FrozenSet(Box::new(
                    Set::from_values(m.iter().map(|s| Value::from(s.as_str()))).unwrap(),
                ))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Random trees of built-in values, at protocols 4 and 5, take the fast
    /// path under default limits and decode as the full machine does; under
    /// tight depth, size and length limits both paths agree too.
    #[test]
    fn plain_trees_take_the_fast_path(v in plain_tree(), proto in 4u8..=5, depth in 1usize..6, values in 1usize..80) {
        let data = encode_protocol(&v, proto);
        match fast::decode(&data, &Limits::default()) {
            Some((fast, _)) => prop_assert!(same(&fast, &v), "{:?} vs {:?}", fast, v),
            // Protocol 4 writes a bytearray as a call of `bytearray`.
            None => prop_assert!(proto == 4 && has_bytearray(&v), "{:?} gave up", v),
        }
        check_paths_agree(&data, &Limits::default());
        let tight = Limits { max_depth: depth, max_values: values, max_len: 4, ..Limits::default() };
        check_paths_agree(&data, &tight);
        // Mutations: a byte changed, then the pickle cut short.
        let mut bad = data.clone();
        let i = (values * 7919) % bad.len();
        bad[i] = bad[i].wrapping_add(depth as u8);
        check_paths_agree(&bad, &Limits::default());
        bad.truncate(i);
        check_paths_agree(&bad, &tight);
    }
}

/// The request pickle written from its parts is the pickle of the tuple.
fn check_call_encoding(ident: Option<&str>, name: &str, args: Vec<Value>, kwds: Dict, proto: u8) {
    let mut parts = b"kept".to_vec();
    encode_call_into(ident, name, &args, &kwds, proto, &mut parts);
    let tuple = Value::Tuple(vec![
        ident.map_or(Value::None, Value::from),
        Value::from(name),
        Value::Tuple(args),
        Value::Dict(Box::new(kwds)),
    ]);
    let mut whole = b"kept".to_vec();
    encode_into(&tuple, proto, &mut whole);
    assert_eq!(parts, whole, "{tuple:?}");
}

#[test]
fn call_encoding_matches_the_tuple() {
    let mut kw = Dict::new();
    kw.insert(Value::from("block"), Value::Bool(false)).unwrap();
    kw.insert(Value::from("timeout"), Value::Float(0.5))
        .unwrap();
    check_call_encoding(None, "incref", vec![Value::from("7f0a")], Dict::new(), 4);
    check_call_encoding(Some("7f0a"), "__len__", vec![], Dict::new(), 4);
    check_call_encoding(Some("7f0a"), "get", vec![], kw.clone(), 5);
    // A payload of 64 KiB or more is written outside the frames.
    let big = Value::from("x".repeat(70_000).as_str());
    check_call_encoding(
        Some("7f0a"),
        "append",
        vec![big, Value::Int(1 << 40)],
        kw,
        4,
    );
    // A back-reference in an argument names the same container either way.
    let cyclic = Value::List(vec![Value::Int(1), Value::BackRef(0)]);
    check_call_encoding(Some("7f0a"), "extend", vec![cyclic], Dict::new(), 4);
    // One naming the args tuple or the request tuple is dangling (None).
    for levels in [1, 2, 3] {
        let up = Value::List(vec![Value::BackRef(levels)]);
        check_call_encoding(Some("7f0a"), "append", vec![up], Dict::new(), 4);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn call_encoding_matches_the_tuple_for_random_arguments(
        args in proptest::collection::vec(plain_tree(), 0..5),
        ident in proptest::option::of("[0-9a-f]{1,12}"),
        proto in 4u8..=5,
    ) {
        check_call_encoding(ident.as_deref(), "__setitem__", args, Dict::new(), proto);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// A reply written from its parts is the pickle of the pair.
    #[test]
    fn pair_encoding_matches_the_tuple(payload in plain_tree(), proto in 4u8..=5) {
        let dangling = Value::List(vec![Value::BackRef(1)]);
        for payload in [payload, Value::List(vec![Value::BackRef(0)]), dangling, Value::from("y".repeat(70_000).as_str())] {
            let mut parts = b"kept".to_vec();
            encode_pair_into("#RETURN", &payload, proto, &mut parts);
            let mut whole = b"kept".to_vec();
            encode_into(&Value::Tuple(vec![Value::from("#RETURN"), payload]), proto, &mut whole);
            prop_assert_eq!(parts, whole);
        }
    }
}

/// `pickle.dumps('caf\udce9', p)` for p in 0..=5: a file name decoded with
/// `surrogateescape` (`b'caf\xe9'` under a UTF-8 locale), which pickle
/// writes with `surrogatepass`.
const SURROGATE_EVERY_PROTOCOL: [&[u8]; 6] = [
    b"Vcaf\\udce9\np0\n.",
    b"X\x06\x00\x00\x00caf\xed\xb3\xa9q\x00.",
    b"\x80\x02X\x06\x00\x00\x00caf\xed\xb3\xa9q\x00.",
    b"\x80\x03X\x06\x00\x00\x00caf\xed\xb3\xa9q\x00.",
    b"\x80\x04\x95\n\x00\x00\x00\x00\x00\x00\x00\x8c\x06caf\xed\xb3\xa9\x94.",
    b"\x80\x05\x95\n\x00\x00\x00\x00\x00\x00\x00\x8c\x06caf\xed\xb3\xa9\x94.",
];

#[test]
fn strings_with_lone_surrogates_decode_at_every_protocol() {
    for (p, data) in SURROGATE_EVERY_PROTOCOL.iter().enumerate() {
        let v = ok(data);
        assert_eq!(v.repr(), r"'caf\udce9'", "protocol {p}");
        let Value::SurrogateStr(s) = &v else {
            panic!("protocol {p}: {v:?}")
        };
        assert_eq!(s.as_bytes(), b"caf\xed\xb3\xa9");
        assert_eq!(s.char_count(), 4);
        // Written back as CPython writes it.
        assert_eq!(encode(&v), SURROGATE_EVERY_PROTOCOL[4], "protocol {p}");
    }
}

#[test]
fn a_list_of_surrogate_strings_round_trips_byte_for_byte() {
    // pickle.dumps(['a\udcff', '\ud83d\ude00', 'plain'], 4)
    let data: &[u8] = b"\x80\x04\x95\x1d\x00\x00\x00\x00\x00\x00\x00]\x94(\x8c\x04a\xed\xb3\xbf\x94\x8c\x06\xed\xa0\xbd\xed\xb8\x80\x94\x8c\x05plain\x94e.";
    let v = ok(data);
    assert_eq!(v.repr(), r"['a\udcff', '\ud83d\ude00', 'plain']");
    assert_eq!(encode(&v), data);
    // Half a surrogate is still not text.
    assert!(matches!(
        err(b"\x8c\x02\xed\xa0."),
        PickleError::InvalidUtf8 { .. }
    ));
}
