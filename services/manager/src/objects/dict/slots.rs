//! A shared dict's items with the entry positions CPython would give them,
//! for the dict's iterators.
//!
//! A CPython dict keeps its items in an entry table: a new key takes the
//! next entry, a deleted key leaves a hole there, and `popitem` hands its
//! entry back. A dict iterator is an entry index plus the number of keys it
//! still expects (`dictiterobject`), so after deleting a key it already
//! yielded and inserting another (the size unchanged) it goes on from its
//! position and, finding one key more than expected, raises "dictionary
//! keys changed during iteration". Counting positions in the current order
//! instead would silently skip a key. Not modelled: the rebuild of the
//! table when it grows, which closes the holes (under a live iterator,
//! CPython's positions then shift too).

use mpcluster_wire::{Dict, OpError, Value};
use std::ops::Deref;

/// A dict and, for each of its items in order, CPython's entry index.
#[derive(Debug, Default)]
pub struct SlottedDict {
    dict: Dict,
    /// Strictly increasing: items keep their order and new ones go last.
    slots: Vec<u64>,
    /// The entry the next new key takes (`dk_nentries`).
    next: u64,
}

impl SlottedDict {
    pub fn new(dict: Dict) -> Self {
        let n = dict.len() as u64;
        SlottedDict {
            dict,
            slots: (0..n).collect(),
            next: n,
        }
    }

    /// `d[k] = v`: a new key takes the next entry, an existing one keeps its.
    pub fn insert(&mut self, k: Value, v: Value) -> Result<Option<Value>, OpError> {
        let old = self.dict.insert(k, v)?;
        if old.is_none() {
            self.slots.push(self.next);
            self.next += 1;
        }
        Ok(old)
    }

    /// `del d[k]`: the entry becomes a hole.
    pub fn remove(&mut self, k: &Value) -> Result<Option<Value>, OpError> {
        Ok(self.dict.remove_at(k)?.map(|(i, v)| {
            self.slots.remove(i);
            v
        }))
    }

    /// `popitem()`: the last item, whose entry the next key reuses.
    pub fn pop_last(&mut self) -> Option<(Value, Value)> {
        let item = self.dict.pop_last()?;
        self.next = self.slots.pop().unwrap_or(0);
        Some(item)
    }

    /// `clear()`: a fresh, empty table.
    pub fn clear(&mut self) {
        self.dict.clear();
        self.slots.clear();
        self.next = 0;
    }

    /// The first key at entry `from` or after, with its entry.
    pub fn key_from(&self, from: u64) -> Option<(u64, &Value)> {
        let i = self.index_from(from);
        let (k, _) = self.dict.get_index(i)?;
        Some((self.slots[i], k))
    }

    /// Where the items at entry `from` and after start in the dict's order.
    pub fn index_from(&self, from: u64) -> usize {
        self.slots.partition_point(|&s| s < from)
    }
}

/// Reads go to the dict itself; changes go through the methods above,
/// which keep the entries in step.
impl Deref for SlottedDict {
    type Target = Dict;

    fn deref(&self) -> &Dict {
        &self.dict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_from(d: &SlottedDict, from: u64) -> Option<(u64, i64)> {
        d.key_from(from)
            .map(|(s, k)| (s, if let Value::Int(i) = k { *i } else { -1 }))
    }

    #[test]
    fn entries_follow_cpythons_table() {
        let mut d = SlottedDict::default();
        for k in 1..=3 {
            d.insert(Value::Int(k), Value::None).unwrap();
        }
        // Overwriting keeps the entry; deleting leaves a hole.
        d.insert(Value::Int(2), Value::Int(9)).unwrap();
        assert_eq!(keys_from(&d, 1), Some((1, 2)));
        d.remove(&Value::Int(1)).unwrap();
        d.insert(Value::Int(4), Value::None).unwrap();
        assert_eq!(keys_from(&d, 0), Some((1, 2)));
        assert_eq!(keys_from(&d, 3), Some((3, 4)));
        // popitem hands the last entry back to the next key.
        d.pop_last().unwrap();
        d.insert(Value::Int(5), Value::None).unwrap();
        assert_eq!(keys_from(&d, 3), Some((3, 5)));
        assert_eq!(keys_from(&d, 4), None);
        d.clear();
        d.insert(Value::Int(6), Value::None).unwrap();
        assert_eq!(keys_from(&d, 0), Some((0, 6)));
    }
}
