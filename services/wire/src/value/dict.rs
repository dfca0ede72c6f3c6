//! `dict` and `set` with Python's key semantics and dict insertion order.
//!
//! Keys are wrapped in [`Key`], whose `Hash` and `Eq` follow Python (see
//! `hash.rs` and `eq.rs`). Lookups take a plain `&Value` and check that it is
//! hashable first, failing as CPython does (`unhashable type: 'list'`).

use super::hash::{check_hashable, hash_into};
use super::{OpError, Value};
use indexmap::{Equivalent, IndexMap, IndexSet};
use std::hash::{Hash, Hasher};

/// Hashing of dict keys and set members: foldhash, randomly seeded per
/// map. Python's hash values feed it, and SipHash (std's default) cost a
/// tenth of a manager's CPU per lookup-heavy request; foldhash keeps a
/// per-map random seed, so colliding keys cannot be precomputed.
type KeyHasher = foldhash::fast::RandomState;

/// A hashable value used as a dict key or set member.
#[derive(Clone, Debug)]
pub struct Key(Value);

impl Key {
    /// Wraps `v`, failing when Python would refuse to hash it.
    pub fn new(v: Value) -> Result<Key, OpError> {
        check_hashable(&v)?;
        Ok(Key(v))
    }

    pub fn value(&self) -> &Value {
        &self.0
    }

    pub fn into_value(self) -> Value {
        self.0
    }
}

/// Key equality is Python `==`. CPython's dict lookup compares by identity
/// first, but a manager's keys and lookups all come out of separate
/// unpickling (floats are never memoized), so two NaNs are never the same
/// object there: CPython's own server keeps `d[nan] = 1; d[nan] = 2` as two
/// keys and never finds a NaN key (checked against a CPython 3.11
/// `SyncManager`). So a NaN key is equal to nothing, itself included.
fn key_eq(a: &Value, b: &Value) -> bool {
    a == b
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        key_eq(&self.0, &other.0)
    }
}
impl Eq for Key {}
impl Hash for Key {
    fn hash<H: Hasher>(&self, h: &mut H) {
        hash_into(&self.0, h)
    }
}

/// A borrowed lookup key, hashed exactly like [`Key`].
struct KeyRef<'a>(&'a Value);

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        hash_into(self.0, h)
    }
}
impl Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        key_eq(self.0, &key.0)
    }
}

fn lookup(v: &Value) -> Result<KeyRef<'_>, OpError> {
    check_hashable(v)?;
    Ok(KeyRef(v))
}

/// A Python `dict`: insertion-ordered, Python key equality.
#[derive(Clone, Debug, Default)]
pub struct Dict {
    map: IndexMap<Key, Value, KeyHasher>,
}

impl Dict {
    pub fn new() -> Self {
        Dict::default()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get(&self, k: &Value) -> Result<Option<&Value>, OpError> {
        Ok(self.map.get(&lookup(k)?))
    }

    pub fn get_mut(&mut self, k: &Value) -> Result<Option<&mut Value>, OpError> {
        Ok(self.map.get_mut(&lookup(k)?))
    }

    pub fn contains_key(&self, k: &Value) -> Result<bool, OpError> {
        Ok(self.map.contains_key(&lookup(k)?))
    }

    /// `d[k] = v`. An equal existing key keeps its original form and
    /// position (`d[1] = 'a'; d[1.0] = 'b'` leaves the key `1`), as in
    /// CPython. Returns the previous value.
    pub fn insert(&mut self, k: Value, v: Value) -> Result<Option<Value>, OpError> {
        // One lookup: `IndexMap::insert` keeps the key already there (as
        // Python does: `d[1.0] = x` on a dict holding 1 keeps the key 1)
        // and its position, replacing only the value.
        Ok(self.map.insert(Key::new(k)?, v))
    }

    /// `del d[k]` / `d.pop(k)`, keeping the order of the other items.
    pub fn remove(&mut self, k: &Value) -> Result<Option<Value>, OpError> {
        Ok(self.map.shift_remove(&lookup(k)?))
    }

    /// [`Dict::remove`], also telling where the item was.
    pub fn remove_at(&mut self, k: &Value) -> Result<Option<(usize, Value)>, OpError> {
        Ok(self
            .map
            .shift_remove_full(&lookup(k)?)
            .map(|(i, _, v)| (i, v)))
    }

    /// `popitem()`: the most recently inserted item.
    pub fn pop_last(&mut self) -> Option<(Value, Value)> {
        self.map.pop().map(|(k, v)| (k.0, v))
    }

    pub fn clear(&mut self) {
        self.map.clear()
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Value, &Value)> + ExactSizeIterator {
        self.map.iter().map(|(k, v)| (&k.0, v))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.map.keys().map(|k| &k.0)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.map.values()
    }

    pub fn values_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = &mut Value> + ExactSizeIterator {
        self.map.values_mut()
    }

    pub fn get_index(&self, i: usize) -> Option<(&Value, &Value)> {
        self.map.get_index(i).map(|(k, v)| (&k.0, v))
    }

    /// Builds a dict from pairs, later keys overwriting earlier ones.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (Value, Value)>) -> Result<Dict, OpError> {
        let mut d = Dict::new();
        for (k, v) in pairs {
            d.insert(k, v)?;
        }
        Ok(d)
    }
}

impl IntoIterator for Dict {
    type Item = (Value, Value);
    type IntoIter =
        std::iter::Map<indexmap::map::IntoIter<Key, Value>, fn((Key, Value)) -> (Value, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.map.into_iter().map(|(k, v)| (k.0, v))
    }
}

/// A Python `set` or `frozenset` (the [`Value`] variant says which).
///
/// Iteration is insertion order; CPython iterates in hash order, which no
/// client may rely on.
#[derive(Clone, Debug, Default)]
pub struct Set {
    set: IndexSet<Key, KeyHasher>,
}

impl Set {
    pub fn new() -> Self {
        Set::default()
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    pub fn contains(&self, v: &Value) -> Result<bool, OpError> {
        Ok(self.set.contains(&lookup(v)?))
    }

    /// Adds `v`; returns false when an equal member was already there.
    pub fn insert(&mut self, v: Value) -> Result<bool, OpError> {
        // `IndexSet::insert` keeps the member already there, as Python.
        Ok(self.set.insert(Key::new(v)?))
    }

    pub fn remove(&mut self, v: &Value) -> Result<bool, OpError> {
        Ok(self.set.shift_remove(&lookup(v)?))
    }

    pub fn pop(&mut self) -> Option<Value> {
        self.set.shift_remove_index(0).map(|k| k.0)
    }

    pub fn clear(&mut self) {
        self.set.clear()
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Value> {
        self.set.iter().map(|k| &k.0)
    }

    pub fn from_values(values: impl IntoIterator<Item = Value>) -> Result<Set, OpError> {
        let mut s = Set::new();
        for v in values {
            s.insert(v)?;
        }
        Ok(s)
    }
}

impl IntoIterator for Set {
    type Item = Value;
    type IntoIter = std::iter::Map<indexmap::set::IntoIter<Key>, fn(Key) -> Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.set.into_iter().map(|k| k.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_for_equal_numbers() {
        let mut d = Dict::new();
        d.insert(Value::Int(1), "a".into()).unwrap();
        d.insert(Value::Float(1.0), "b".into()).unwrap();
        d.insert(Value::Bool(true), "c".into()).unwrap();
        assert_eq!(d.len(), 1);
        let (k, v) = d.get_index(0).unwrap();
        assert!(matches!(k, Value::Int(1)), "first key form is kept");
        assert_eq!(v, &Value::from("c"));
    }

    #[test]
    fn unhashable_lookup_fails() {
        let d = Dict::new();
        assert_eq!(
            d.get(&Value::List(vec![])).unwrap_err(),
            OpError::Unhashable("list".into())
        );
    }

    #[test]
    fn order_kept_on_remove() {
        let mut d = Dict::new();
        for i in 0..5 {
            d.insert(Value::Int(i), Value::None).unwrap();
        }
        d.remove(&Value::Int(2)).unwrap();
        let keys: Vec<i64> = d.keys().map(|k| k.as_i64().unwrap()).collect();
        assert_eq!(keys, vec![0, 1, 3, 4]);
        assert!(matches!(d.pop_last(), Some((Value::Int(4), _))));
    }

    #[test]
    fn nan_keys_are_never_found_as_on_cpythons_server() {
        // CPython's server: d[nan] = 1; d[nan] = 2 → len(d) == 2,
        // d.get(nan) is None, nan in s is False.
        let mut s = Set::new();
        s.insert(Value::Float(f64::NAN)).unwrap();
        assert!(!s.contains(&Value::Float(f64::NAN)).unwrap());
        assert!(s.insert(Value::Float(f64::NAN)).unwrap());
        assert_eq!(s.len(), 2);
        let mut d = Dict::new();
        d.insert(Value::Float(f64::NAN), Value::Int(1)).unwrap();
        d.insert(Value::Float(f64::NAN), Value::Int(2)).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d.get(&Value::Float(f64::NAN)).unwrap(), None);
        // {frozenset({nan}): 1, frozenset({nan}): 2} keeps both keys too.
        let fs = || {
            Value::FrozenSet(Box::new(
                Set::from_values([Value::Float(f64::NAN)]).unwrap(),
            ))
        };
        let d = Dict::from_pairs([(fs(), Value::Int(1)), (fs(), Value::Int(2))]).unwrap();
        assert_eq!(d.len(), 2);
    }
}
