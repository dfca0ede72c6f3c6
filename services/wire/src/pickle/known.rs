//! `REDUCE` calls that build a built-in value, turned into native nodes.
//!
//! Some built-in types have no opcode in older protocols, so CPython's
//! pickler writes them as a call of the type:
//!
//! | value | written as | by |
//! |---|---|---|
//! | `bytearray` | `builtins.bytearray(bytes)` / `bytearray()` | protocols 0-4 (`save_bytearray`) |
//! | `complex` | `builtins.complex(re, im)` | every protocol (`complex.__reduce__`) |
//! | `set` / `frozenset` | `builtins.set(list)` / `frozenset(list)` | protocols 0-3 (`save_set`) |
//! | `bytes` | `_codecs.encode(latin1_str, 'latin1')` / `builtins.bytes()` | protocols 0-2 (`save_bytes`) |
//! | `list` | `builtins.list(list)` | `multiprocessing`'s reducer of dict views (`rebuild_as_list`: `d.keys()`, `d.items()`, `d.values()`) |
//!
//! Calls of the built-in constructors on a built-in container are also what
//! reducers of other types write (`list(...)`, `tuple(...)`, `set(...)`,
//! `frozenset(...)`, `dict(...)`): such a call builds the value CPython's
//! unpickler would, from the argument as it is at that point of the pickle
//! (a snapshot, as the call is). The decoder recognises exactly these
//! shapes and produces the native value (which the encoder writes back the
//! protocol 4 way); any other call stays an opaque [`crate::Object`], so
//! nothing is lost when an argument has an unexpected type.

use super::arena::{Budget, Node, NodeId};
use super::error::PickleError;
use crate::Value;

/// The native node `callable(*args)` builds, when it is one of the calls in
/// the table above; `None` leaves the call opaque. Copies are charged to
/// `budget`, since a pickle may apply the call to one memoized argument
/// many times.
pub(crate) fn native_reduce(
    nodes: &[Node],
    callable: NodeId,
    args: NodeId,
    budget: &mut Budget,
) -> Result<Option<Node>, PickleError> {
    let (Some(Node::Leaf(Value::Global(g))), Some(Node::Tuple(args))) =
        (nodes.get(callable), nodes.get(args))
    else {
        return Ok(None);
    };
    let arg = |i: usize| args.get(i).and_then(|id| nodes.get(*id));
    let node = match (g.module.as_str(), g.name.as_str(), args.len()) {
        ("builtins", "bytearray", 0) => Some(Node::Leaf(Value::ByteArray(Vec::new()))),
        ("builtins", "bytearray", 1) => match arg(0) {
            Some(Node::Leaf(Value::Bytes(b))) => {
                budget.spend(Budget::copy_units(b.len()))?;
                Some(Node::Leaf(Value::ByteArray(b.clone())))
            }
            _ => None,
        },
        ("builtins", "bytes", 0) => Some(Node::Leaf(Value::Bytes(Vec::new()))),
        ("builtins", "complex", n @ 0..=2) => {
            let re = if n >= 1 {
                arg(0).and_then(real)
            } else {
                Some(0.0)
            };
            let im = if n >= 2 {
                arg(1).and_then(real)
            } else {
                Some(0.0)
            };
            match (re, im) {
                (Some(re), Some(im)) => Some(Node::Leaf(Value::complex(re, im))),
                _ => None,
            }
        }
        ("builtins", kind @ ("list" | "tuple" | "set" | "frozenset"), n @ 0..=1) => {
            let items = if n == 0 {
                Some(Vec::new())
            } else {
                arg(0).and_then(iterated)
            };
            match items {
                Some(items) => {
                    budget.spend(items.len())?;
                    Some(match kind {
                        "list" => Node::List(items),
                        "tuple" => Node::Tuple(items),
                        "set" => Node::Set(items),
                        _ => Node::FrozenSet(items),
                    })
                }
                None => None,
            }
        }
        ("builtins", "dict", n @ 0..=1) => {
            let pairs = if n == 0 {
                Some(Vec::new())
            } else {
                match arg(0) {
                    Some(Node::Dict(pairs)) => Some(pairs.clone()),
                    // `dict(iterable)`: every item a key and a value.
                    Some(other) => iterated(other).and_then(|items| {
                        items
                            .iter()
                            .map(|id| match nodes.get(*id).and_then(iterated).as_deref() {
                                Some([k, v]) => Some((*k, *v)),
                                _ => None,
                            })
                            .collect()
                    }),
                    None => None,
                }
            };
            match pairs {
                Some(pairs) => {
                    budget.spend(pairs.len() * 2)?;
                    Some(Node::Dict(pairs))
                }
                None => None,
            }
        }
        ("_codecs", "encode", 2) => match (arg(0), arg(1)) {
            (Some(Node::Leaf(Value::Str(s))), Some(Node::Leaf(Value::Str(enc))))
                if is_latin1_name(enc) =>
            {
                budget.spend(Budget::copy_units(s.len()))?;
                latin1(s).map(|b| Node::Leaf(Value::Bytes(b)))
            }
            _ => None,
        },
        _ => None,
    };
    Ok(node)
}

/// The items `iter(x)` yields, for a built-in container node: a dict
/// yields its keys. `None` for anything else (a string would need new
/// nodes for its characters; the call then stays opaque).
fn iterated(n: &Node) -> Option<Vec<NodeId>> {
    match n {
        Node::List(items) | Node::Tuple(items) | Node::Set(items) | Node::FrozenSet(items) => {
            Some(items.clone())
        }
        Node::Dict(pairs) => Some(pairs.iter().map(|(k, _)| *k).collect()),
        _ => None,
    }
}

/// A real number `complex()` accepts as a part without running Python code.
fn real(n: &Node) -> Option<f64> {
    match n {
        Node::Leaf(Value::Float(f)) => Some(*f),
        Node::Leaf(Value::Int(i)) => Some(*i as f64),
        Node::Leaf(Value::Bool(b)) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

/// The spellings of Latin-1 CPython writes (`'latin1'`) or could be handed.
fn is_latin1_name(enc: &str) -> bool {
    matches!(
        enc.to_ascii_lowercase().replace('_', "-").as_str(),
        "latin1" | "latin-1" | "iso-8859-1" | "iso8859-1"
    )
}

/// `s.encode('latin1')`, or `None` when a character is above U+00FF (which
/// CPython would refuse at load time; the call then stays opaque).
fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(module: &str, name: &str, args: Vec<Node>) -> Option<Node> {
        let mut nodes = vec![Node::Leaf(Value::global(module, name))];
        let ids: Vec<NodeId> = (1..=args.len()).collect();
        nodes.extend(args);
        nodes.push(Node::Tuple(ids));
        let args_id = nodes.len() - 1;
        native_reduce(&nodes, 0, args_id, &mut Budget::new(100)).unwrap()
    }

    #[test]
    fn bytearray_and_bytes() {
        let n = call(
            "builtins",
            "bytearray",
            vec![Node::Leaf(Value::Bytes(b"ab".to_vec()))],
        );
        assert!(matches!(n, Some(Node::Leaf(Value::ByteArray(b))) if b == b"ab"));
        assert!(matches!(
            call("builtins", "bytearray", vec![]),
            Some(Node::Leaf(Value::ByteArray(b))) if b.is_empty()
        ));
        assert!(
            matches!(call("builtins", "bytes", vec![]), Some(Node::Leaf(Value::Bytes(b))) if b.is_empty())
        );
        // bytearray('ab', 'latin-1') is a different call: stays opaque.
        assert!(call("builtins", "bytearray", vec![Node::Leaf("ab".into())]).is_none());
    }

    #[test]
    fn codecs_encode_is_latin1_bytes() {
        let n = call(
            "_codecs",
            "encode",
            vec![Node::Leaf("a\u{ff}".into()), Node::Leaf("latin1".into())],
        );
        assert!(matches!(n, Some(Node::Leaf(Value::Bytes(b))) if b == b"a\xff"));
        let wide = call(
            "_codecs",
            "encode",
            vec![Node::Leaf("\u{100}".into()), Node::Leaf("latin1".into())],
        );
        assert!(wide.is_none());
        let utf8 = call(
            "_codecs",
            "encode",
            vec![Node::Leaf("a".into()), Node::Leaf("utf-8".into())],
        );
        assert!(utf8.is_none());
    }

    #[test]
    fn complex_and_sets() {
        let c = call(
            "builtins",
            "complex",
            vec![Node::Leaf(Value::Float(1.0)), Node::Leaf(Value::Int(2))],
        );
        assert!(matches!(c, Some(Node::Leaf(Value::Complex(b))) if *b == (1.0, 2.0)));
        assert!(call("builtins", "complex", vec![Node::Leaf("1+2j".into())]).is_none());
        let s = call("builtins", "frozenset", vec![Node::List(vec![])]);
        assert!(matches!(s, Some(Node::FrozenSet(v)) if v.is_empty()));
        assert!(matches!(
            call("builtins", "set", vec![]),
            Some(Node::Set(_))
        ));
        assert!(matches!(
            call("builtins", "set", vec![Node::Tuple(vec![])]),
            Some(Node::Set(_))
        ));
        assert!(call("builtins", "set", vec![Node::Leaf("ab".into())]).is_none());
        assert!(call("mymod", "set", vec![]).is_none());
    }

    #[test]
    fn constructors_of_containers() {
        // `list(d.keys())` as multiprocessing pickles a dict view.
        let l = call("builtins", "list", vec![Node::List(vec![7, 8])]);
        assert!(matches!(l, Some(Node::List(v)) if v == [7, 8]));
        let t = call("builtins", "tuple", vec![Node::Set(vec![5])]);
        assert!(matches!(t, Some(Node::Tuple(v)) if v == [5]));
        // Iterating a dict yields its keys.
        let k = call("builtins", "list", vec![Node::Dict(vec![(3, 4)])]);
        assert!(matches!(k, Some(Node::List(v)) if v == [3]));
        assert!(matches!(call("builtins", "tuple", vec![]), Some(Node::Tuple(v)) if v.is_empty()));
        assert!(call("builtins", "list", vec![Node::Leaf("ab".into())]).is_none());
    }

    #[test]
    fn dict_from_a_dict_or_pairs() {
        let d = call("builtins", "dict", vec![Node::Dict(vec![(3, 4)])]);
        assert!(matches!(d, Some(Node::Dict(p)) if p == [(3, 4)]));
        // dict([(k, v)]): the pair is node 2 (the list is node 1).
        let mut nodes = vec![
            Node::Leaf(Value::global("builtins", "dict")),
            Node::List(vec![2]),
            Node::Tuple(vec![3, 4]),
            Node::Leaf("k".into()),
            Node::Leaf(Value::Int(1)),
        ];
        nodes.push(Node::Tuple(vec![1]));
        let args = nodes.len() - 1;
        let d = native_reduce(&nodes, 0, args, &mut Budget::new(100)).unwrap();
        assert!(matches!(d, Some(Node::Dict(p)) if p == [(3, 4)]));
        // An item that is not a pair leaves the call opaque.
        nodes[2] = Node::Tuple(vec![3]);
        assert!(native_reduce(&nodes, 0, args, &mut Budget::new(100))
            .unwrap()
            .is_none());
    }
}
