//! The decoder's intermediate form: a graph of nodes addressed by index.
//!
//! A pickle is a program for a stack machine whose memo holds *live*
//! objects: a list memoized and then appended to is seen, appended items
//! included, by every later `GET`, and a list may end up containing itself.
//! So the decoder (`decode.rs`) builds nodes in an arena, the stack and the
//! memo hold node indices, and containers are filled in place. Only at
//! `STOP` does `convert.rs` turn the graph into a [`Value`] tree, copying
//! shared nodes and cutting cycles into [`Value::BackRef`].
//!
//! [`Budget`] counts what the decoded value costs (nodes while parsing,
//! values and copied bytes while converting) against the pickle's value
//! budget (`Limits::value_budget`).

use super::error::PickleError;
use crate::Value;

/// Index of a node in the arena.
pub(crate) type NodeId = usize;

/// One object of the pickle being decoded.
#[derive(Debug)]
pub(crate) enum Node {
    /// A value with no children: numbers, strings, bytes, globals.
    Leaf(Value),
    Tuple(Vec<NodeId>),
    List(Vec<NodeId>),
    Dict(Vec<(NodeId, NodeId)>),
    Set(Vec<NodeId>),
    FrozenSet(Vec<NodeId>),
    Object(Box<ObjNode>),
}

/// How an opaque object is constructed (mirrors [`crate::value::Build`]).
#[derive(Debug)]
pub(crate) enum Head {
    Reduce {
        callable: NodeId,
        args: NodeId,
    },
    NewObj {
        cls: NodeId,
        args: NodeId,
        kwargs: Option<NodeId>,
    },
}

/// An opaque object being filled by `APPENDS`, `SETITEMS` and `BUILD`.
#[derive(Debug)]
pub(crate) struct ObjNode {
    pub(crate) head: Head,
    pub(crate) list_items: Vec<NodeId>,
    pub(crate) dict_items: Vec<(NodeId, NodeId)>,
    pub(crate) state: Option<NodeId>,
}

impl Node {
    /// The Python type name, for error messages.
    pub(crate) fn kind(&self) -> String {
        match self {
            Node::Leaf(v) => v.type_name(),
            Node::Tuple(_) => "tuple".into(),
            Node::List(_) => "list".into(),
            Node::Dict(_) => "dict".into(),
            Node::Set(_) => "set".into(),
            Node::FrozenSet(_) => "frozenset".into(),
            Node::Object(_) => "object".into(),
        }
    }

    /// How many children [`Node::child`] yields.
    pub(crate) fn len(&self) -> usize {
        match self {
            Node::Leaf(_) => 0,
            Node::Tuple(v) | Node::List(v) | Node::Set(v) | Node::FrozenSet(v) => v.len(),
            Node::Dict(p) => p.len() * 2,
            Node::Object(o) => {
                o.head_len()
                    + o.list_items.len()
                    + o.dict_items.len() * 2
                    + o.state.is_some() as usize
            }
        }
    }

    /// The `i`-th child in a flat order: dicts yield key, value, key, …;
    /// objects yield their construction (callable or class, args, kwargs),
    /// then list items, then dict items as key, value, then the state.
    pub(crate) fn child(&self, i: usize) -> Option<NodeId> {
        match self {
            Node::Leaf(_) => None,
            Node::Tuple(v) | Node::List(v) | Node::Set(v) | Node::FrozenSet(v) => v.get(i).copied(),
            Node::Dict(p) => pair_child(p, i),
            Node::Object(o) => o.child(i),
        }
    }

    /// True when, while child `i` is being converted, this node already
    /// exists as an object CPython's pickler has memoized, so a reference
    /// back to it can be written as a memo `GET`. Lists, dicts and sets are
    /// memoized before their items; an object after its construction but
    /// before its items and state (`save_reduce`); tuples and frozensets
    /// only once complete, so a cycle through them is unfolded instead.
    pub(crate) fn referable_during(&self, i: usize) -> bool {
        match self {
            Node::List(_) | Node::Dict(_) | Node::Set(_) => true,
            Node::Object(o) => i >= o.head_len(),
            Node::Leaf(_) | Node::Tuple(_) | Node::FrozenSet(_) => false,
        }
    }
}

fn pair_child(pairs: &[(NodeId, NodeId)], i: usize) -> Option<NodeId> {
    pairs
        .get(i / 2)
        .map(|(k, v)| if i.is_multiple_of(2) { *k } else { *v })
}

impl ObjNode {
    /// Number of construction children: callable and args, or class, args
    /// and optional kwargs.
    pub(crate) fn head_len(&self) -> usize {
        match self.head {
            Head::Reduce { .. } => 2,
            Head::NewObj { kwargs: None, .. } => 2,
            Head::NewObj {
                kwargs: Some(_), ..
            } => 3,
        }
    }

    fn child(&self, i: usize) -> Option<NodeId> {
        let head = match self.head {
            Head::Reduce { callable, args } => [Some(callable), Some(args), None],
            Head::NewObj { cls, args, kwargs } => [Some(cls), Some(args), kwargs],
        };
        let h = self.head_len();
        if i < h {
            return head.get(i).copied().flatten();
        }
        let i = i - h;
        if i < self.list_items.len() {
            return self.list_items.get(i).copied();
        }
        let i = i - self.list_items.len();
        if i < self.dict_items.len() * 2 {
            return pair_child(&self.dict_items, i);
        }
        match i - self.dict_items.len() * 2 {
            0 => self.state,
            _ => None,
        }
    }
}

/// What the decoded value may cost, in units of one value (or 32 bytes of
/// copied string data).
pub(crate) struct Budget {
    used: usize,
    limit: usize,
}

/// Bytes of copied `str`/`bytes` data that cost one unit.
pub(crate) const BYTES_PER_UNIT: usize = 32;

impl Budget {
    pub(crate) fn new(limit: usize) -> Self {
        Budget { used: 0, limit }
    }

    pub(crate) fn spend(&mut self, units: usize) -> Result<(), PickleError> {
        self.used = self.used.saturating_add(units);
        if self.used > self.limit {
            return Err(PickleError::TooManyValues { limit: self.limit });
        }
        Ok(())
    }

    /// The whole budget, named in errors.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Units left before the limit.
    pub(crate) fn remaining(&self) -> usize {
        self.limit.saturating_sub(self.used)
    }

    /// Units a copy of `len` bytes of payload costs on top of its value.
    pub(crate) fn copy_units(len: usize) -> usize {
        len / BYTES_PER_UNIT
    }
}

/// The payload size of a leaf, for charging copies of it.
pub(crate) fn payload_len(v: &Value) -> usize {
    match v {
        Value::Str(s) => s.len(),
        Value::SurrogateStr(s) => s.as_bytes().len(),
        Value::Bytes(b) | Value::ByteArray(b) => b.len(),
        Value::BigInt(b) => (b.bits() / 8) as usize,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_children_are_flattened_in_save_reduce_order() {
        let o = Node::Object(Box::new(ObjNode {
            head: Head::NewObj {
                cls: 10,
                args: 11,
                kwargs: None,
            },
            list_items: vec![20, 21],
            dict_items: vec![(30, 31)],
            state: Some(40),
        }));
        let kids: Vec<NodeId> = (0..o.len()).filter_map(|i| o.child(i)).collect();
        assert_eq!(kids, vec![10, 11, 20, 21, 30, 31, 40]);
        assert_eq!(o.child(7), None);
        assert!(
            !o.referable_during(1),
            "not memoized while its args are written"
        );
        assert!(o.referable_during(2));
    }

    #[test]
    fn dict_children_alternate() {
        let d = Node::Dict(vec![(1, 2), (3, 4)]);
        let kids: Vec<NodeId> = (0..d.len()).filter_map(|i| d.child(i)).collect();
        assert_eq!(kids, vec![1, 2, 3, 4]);
    }

    #[test]
    fn budget_refuses_past_the_limit() {
        let mut b = Budget::new(3);
        assert!(b.spend(3).is_ok());
        assert_eq!(b.spend(1), Err(PickleError::TooManyValues { limit: 3 }));
    }
}
