//! How much memory a [`Value`] holds: an estimate for operators.
//!
//! The manager shows each object's memory on its admin surface and counts
//! the whole process's allocations for `--max-memory`; this is the
//! per-object half. It adds the bytes of every heap allocation a value
//! owns (vectors at their capacity, a dict's entries and index) to the
//! inline size of the value itself, without allocator overheads, so it is
//! a lower bound of what freeing the value gives back. The walk is
//! iterative in the sense that matters: it recurses only as deep as the
//! decoder let the value nest.

use super::{Build, Dict, Object, Set, Value};
use std::mem::size_of;

impl Value {
    /// Bytes this value holds, inline size included.
    pub fn mem_bytes(&self) -> usize {
        size_of::<Value>() + self.heap_bytes()
    }

    /// Bytes of the heap allocations this value owns.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::BackRef(_) => 0,
            // A BigInt's digits are 64-bit words.
            Value::BigInt(b) => {
                size_of::<num_bigint::BigInt>() + (b.bits() as usize).div_ceil(64) * 8
            }
            Value::Complex(_) => size_of::<(f64, f64)>(),
            Value::Str(s) => s.capacity(),
            Value::SurrogateStr(s) => s.as_bytes().len(),
            Value::Bytes(b) | Value::ByteArray(b) => b.capacity(),
            Value::Tuple(items) | Value::List(items) => items_bytes(items.iter(), items.capacity()),
            Value::Dict(d) => size_of::<Dict>() + dict_bytes(d),
            Value::Set(s) | Value::FrozenSet(s) => size_of::<Set>() + set_bytes(s),
            Value::Global(g) => {
                size_of::<super::Global>() + g.module.capacity() + g.name.capacity()
            }
            Value::Object(o) => size_of::<Object>() + object_bytes(o),
        }
    }
}

impl Dict {
    /// Bytes of the entries and what their keys and values own.
    pub fn heap_bytes(&self) -> usize {
        dict_bytes(self)
    }
}

impl Set {
    /// Bytes of the members and what they own.
    pub fn heap_bytes(&self) -> usize {
        set_bytes(self)
    }
}

/// Bytes of a sequence of values held in a buffer of `capacity` slots
/// (a list's `Vec`, a queue's `VecDeque`).
pub fn items_bytes<'a>(items: impl IntoIterator<Item = &'a Value>, capacity: usize) -> usize {
    capacity * size_of::<Value>() + items.into_iter().map(Value::heap_bytes).sum::<usize>()
}

/// An index map entry holds the key, the value and a cached hash; its index
/// one `usize` per slot (at least the entry count).
fn dict_bytes(d: &Dict) -> usize {
    let per_entry = 2 * size_of::<Value>() + 2 * size_of::<usize>();
    d.len() * per_entry
        + d.iter()
            .map(|(k, v)| k.heap_bytes() + v.heap_bytes())
            .sum::<usize>()
}

fn set_bytes(s: &Set) -> usize {
    let per_entry = size_of::<Value>() + 2 * size_of::<usize>();
    s.len() * per_entry + s.iter().map(Value::heap_bytes).sum::<usize>()
}

fn object_bytes(o: &Object) -> usize {
    let head = match &o.build {
        Build::Reduce { callable, args } => callable.heap_bytes() + args.heap_bytes(),
        Build::NewObj { cls, args, kwargs } => {
            cls.heap_bytes() + args.heap_bytes() + kwargs.as_ref().map_or(0, |k| k.mem_bytes())
        }
    };
    head + items_bytes(&o.list_items, o.list_items.capacity())
        + o.dict_items.capacity() * 2 * size_of::<Value>()
        + o.dict_items
            .iter()
            .map(|(k, v)| k.heap_bytes() + v.heap_bytes())
            .sum::<usize>()
        + o.state.as_ref().map_or(0, Value::mem_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_hold_only_their_slot() {
        assert_eq!(Value::None.mem_bytes(), size_of::<Value>());
        assert_eq!(Value::Int(7).heap_bytes(), 0);
    }

    #[test]
    fn containers_count_their_items_and_payloads() {
        let s = Value::Str("x".repeat(100));
        assert!(s.heap_bytes() >= 100);
        let l = Value::List(vec![s.clone(), s.clone()]);
        assert!(l.heap_bytes() >= 2 * size_of::<Value>() + 200);
        let mut d = Dict::new();
        d.insert(Value::Int(1), s).unwrap();
        let d = Value::from(d);
        assert!(d.heap_bytes() > 100 + 2 * size_of::<Value>());
    }
}
