//! A shared list's items, packed 8 bytes each while they allow it.
//!
//! CPython's list holds 8-byte pointers, and `None`, `True`, `False` and
//! the small ints are shared objects, so a list of a million of them costs
//! 8 MB there. A [`Value`] is 32 bytes. Lists of such items are common
//! (flags, counters, slots filled in later), so a list keeps them packed,
//! one tagged 64-bit word per item, for as long as every item is `None`,
//! a `bool` or an `int` of 62 bits; the first other item unpacks the list
//! into plain values. Reads, `append`, `extend`, `pop`, `__len__` and
//! `__setitem__` of an index work on the packed form; operations that
//! rearrange the whole list (`sort`, `reverse`, slice assignment, ...)
//! work on values and pack the result again when they can, since they
//! are O(n) anyway. Every observable behaviour is the unpacked list's.

use mpcluster_wire::Value;
use std::borrow::Cow;

/// One packed item: an int shifted left by 2 (tag `00`), or `None`
/// (`01`), `False` (`10`), `True` (`11`) with nothing above the tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Imm(u64);

/// Ints of 62 bits fit beside the tag.
const IMM_MIN: i64 = -(1 << 61);
const IMM_MAX: i64 = (1 << 61) - 1;

impl Imm {
    fn of(v: &Value) -> Option<Imm> {
        match v {
            Value::None => Some(Imm(1)),
            Value::Bool(false) => Some(Imm(2)),
            Value::Bool(true) => Some(Imm(3)),
            Value::Int(i) if (IMM_MIN..=IMM_MAX).contains(i) => Some(Imm((*i as u64) << 2)),
            _ => None,
        }
    }

    fn value(self) -> Value {
        match self.0 & 3 {
            0 => Value::Int((self.0 as i64) >> 2),
            1 => Value::None,
            2 => Value::Bool(false),
            _ => Value::Bool(true),
        }
    }
}

/// The items of one list.
#[derive(Debug)]
pub enum Items {
    Packed(Vec<u64>),
    Values(Vec<Value>),
}

impl Items {
    /// Packed when every item allows it.
    pub fn new(values: Vec<Value>) -> Items {
        match pack(&values) {
            Some(p) => Items::Packed(p),
            None => Items::Values(values),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Items::Packed(p) => p.len(),
            Items::Values(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, i: usize) -> Option<Value> {
        match self {
            Items::Packed(p) => p.get(i).map(|&w| Imm(w).value()),
            Items::Values(v) => v.get(i).cloned(),
        }
    }

    /// Every item, in order (borrowed when unpacked).
    pub fn iter(&self) -> Box<dyn Iterator<Item = Cow<'_, Value>> + '_> {
        match self {
            Items::Packed(p) => Box::new(p.iter().map(|&w| Cow::Owned(Imm(w).value()))),
            Items::Values(v) => Box::new(v.iter().map(Cow::Borrowed)),
        }
    }

    /// The items as a slice of values (a copy when packed).
    pub fn view(&self) -> Cow<'_, [Value]> {
        match self {
            Items::Packed(p) => Cow::Owned(unpack(p)),
            Items::Values(v) => Cow::Borrowed(v),
        }
    }

    /// The items as values, copied.
    pub fn to_vec(&self) -> Vec<Value> {
        self.view().into_owned()
    }

    /// The values to change in place: unpacks a packed list. Callers that
    /// rearrange the whole list call [`Items::settle`] after.
    pub fn values(&mut self) -> &mut Vec<Value> {
        if let Items::Packed(p) = self {
            *self = Items::Values(unpack(p));
        }
        match self {
            Items::Values(v) => v,
            // Just unpacked above.
            Items::Packed(_) => unreachable!("unpacked above"),
        }
    }

    /// Packs the items again when they all allow it (after an O(n)
    /// operation, so the check costs nothing extra in order).
    pub fn settle(&mut self) {
        if let Items::Values(v) = self {
            if let Some(p) = pack(v) {
                *self = Items::Packed(p);
            }
        }
    }

    pub fn push(&mut self, v: Value) {
        match (&mut *self, Imm::of(&v)) {
            (Items::Packed(p), Some(w)) => {
                grow(p, 1);
                p.push(w.0)
            }
            _ => self.values().push(v),
        }
    }

    pub fn extend(&mut self, more: Vec<Value>) {
        if let Items::Packed(p) = self {
            if let Some(words) = pack(&more) {
                grow(p, words.len());
                p.extend(words);
                return;
            }
        }
        self.values().extend(more);
    }

    /// Replaces item `i` (in range), keeping the list packed when it can.
    pub fn set(&mut self, i: usize, v: Value) {
        match (&mut *self, Imm::of(&v)) {
            (Items::Packed(p), Some(w)) => {
                if let Some(slot) = p.get_mut(i) {
                    *slot = w.0;
                }
            }
            _ => {
                if let Some(slot) = self.values().get_mut(i) {
                    *slot = v;
                }
            }
        }
    }

    /// Removes and returns item `i` (in range).
    pub fn remove(&mut self, i: usize) -> Value {
        match self {
            Items::Packed(p) => Imm(p.remove(i)).value(),
            Items::Values(v) => v.remove(i),
        }
    }

    pub fn reverse(&mut self) {
        match self {
            Items::Packed(p) => p.reverse(),
            Items::Values(v) => v.reverse(),
        }
    }

    pub fn clear(&mut self) {
        *self = Items::Packed(Vec::new());
    }

    /// Bytes of the buffer and of what the items own.
    pub fn mem_bytes(&self) -> usize {
        match self {
            Items::Packed(p) => p.capacity() * std::mem::size_of::<u64>(),
            Items::Values(v) => mpcluster_wire::value::items_bytes(v.iter(), v.capacity()),
        }
    }
}

/// Makes room for `more` words the way CPython's `list_resize` does: an
/// eighth more than needed, not double, so a large packed list holds
/// little spare room (a doubled buffer would cost up to 16 bytes an item
/// where CPython's list costs 9).
fn grow(p: &mut Vec<u64>, more: usize) {
    let need = p.len().saturating_add(more);
    if need > p.capacity() {
        let target = need.saturating_add(need >> 3).saturating_add(6);
        p.reserve_exact(target - p.len());
    }
}

fn pack(values: &[Value]) -> Option<Vec<u64>> {
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        out.push(Imm::of(v)?.0);
    }
    Some(out)
}

fn unpack(words: &[u64]) -> Vec<Value> {
    words.iter().map(|&w| Imm(w).value()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immediates_round_trip_through_their_tag() {
        for v in [
            Value::None,
            Value::Bool(false),
            Value::Bool(true),
            Value::Int(0),
            Value::Int(-1),
            Value::Int(IMM_MIN),
            Value::Int(IMM_MAX),
        ] {
            let back = Imm::of(&v).map(Imm::value);
            assert_eq!(format!("{back:?}"), format!("{:?}", Some(v)));
        }
        // True stays a bool and 1 an int, though they are equal.
        assert_ne!(Imm::of(&Value::Bool(true)), Imm::of(&Value::Int(1)));
        assert!(Imm::of(&Value::Int(IMM_MAX + 1)).is_none());
        assert!(Imm::of(&Value::Int(IMM_MIN - 1)).is_none());
        assert!(Imm::of(&Value::Float(1.0)).is_none());
    }

    #[test]
    fn a_list_stays_packed_until_an_item_does_not_fit() {
        let mut items = Items::new(vec![Value::None, Value::Int(7)]);
        assert!(matches!(items, Items::Packed(_)));
        items.push(Value::Bool(true));
        items.extend(vec![Value::Int(-3); 3]);
        items.set(0, Value::Int(9));
        assert!(matches!(items, Items::Packed(_)));
        assert_eq!(items.len(), 6);
        assert_eq!(format!("{:?}", items.get(0)), "Some(Int(9))");
        assert_eq!(format!("{:?}", items.remove(2)), "Bool(true)");
        items.push(Value::str("x"));
        assert!(matches!(items, Items::Values(_)));
        assert_eq!(items.len(), 6);
        assert_eq!(format!("{:?}", items.get(5)), "Some(Str(\"x\"))");
        // Packed again once the item that did not fit is gone.
        items.values().pop();
        items.settle();
        assert!(matches!(items, Items::Packed(_)));
        assert_eq!(
            format!("{:?}", items.to_vec()),
            "[Int(9), Int(7), Int(-3), Int(-3), Int(-3)]"
        );
    }

    #[test]
    fn packed_items_cost_a_quarter() {
        let packed = Items::new(vec![Value::None; 1000]);
        let values = Items::Values(vec![Value::None; 1000]);
        assert_eq!(packed.mem_bytes() * 4, values.mem_bytes());
    }
}
