//! The unpickler's memo: index → node.
//!
//! Pickles from `pickle.dumps` number their memo entries 0, 1, 2, … in
//! order (`MEMOIZE`, or `BINPUT` with increasing indices in protocols below
//! 4), so small indices live in a vector; an index past [`DENSE_MAX`]
//! (only a hand-made pickle has one) goes to a map, so a hostile `PUT` of a
//! huge index costs one entry, not a huge vector.

use super::arena::NodeId;
use std::collections::HashMap;

/// Indices below this are stored densely (64 KiB of slots at most).
const DENSE_MAX: u64 = 4096;

#[derive(Default)]
pub(crate) struct Memo {
    dense: Vec<Option<NodeId>>,
    sparse: HashMap<u64, NodeId>,
    /// Distinct indices set: what `MEMOIZE` uses as its next index, as
    /// CPython's `memo_len`.
    len: usize,
}

impl Memo {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn insert(&mut self, idx: u64, node: NodeId) {
        let fresh = match usize::try_from(idx).ok().filter(|_| idx < DENSE_MAX) {
            Some(i) => {
                if self.dense.len() <= i {
                    if self.dense.capacity() == 0 {
                        // A request memoizes ~8 values: one allocation.
                        self.dense.reserve(16);
                    }
                    self.dense.resize(i + 1, None);
                }
                self.dense[i].replace(node).is_none()
            }
            None => self.sparse.insert(idx, node).is_none(),
        };
        self.len += usize::from(fresh);
    }

    pub(crate) fn get(&self, idx: u64) -> Option<NodeId> {
        if idx < DENSE_MAX {
            let i = usize::try_from(idx).ok()?;
            self.dense.get(i).copied().flatten()
        } else {
            self.sparse.get(&idx).copied()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_sparse_indices_count_once_each() {
        let mut m = Memo::default();
        m.insert(0, 10);
        m.insert(1, 11);
        m.insert(0, 12); // overwrite: not a new entry
        m.insert(1 << 40, 13);
        m.insert(5000, 14);
        assert_eq!(m.len(), 4);
        assert_eq!(m.get(0), Some(12));
        assert_eq!(m.get(1), Some(11));
        assert_eq!(m.get(2), None);
        assert_eq!(m.get(1 << 40), Some(13));
        assert_eq!(m.get(5000), Some(14));
        assert_eq!(m.get(u64::MAX), None);
        assert!(m.dense.len() <= DENSE_MAX as usize);
    }
}
