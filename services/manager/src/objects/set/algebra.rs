//! Set algebra on the value model's [`Set`]: the four binary operations
//! (members of the left operand first, so results keep a stable order) and
//! inclusion, with Python's hashing and equality.

use crate::pyexc::PyException;
use mpcluster_wire::{Set, Value};

/// A set used as a lookup key: CPython's `set_contains`, `remove` and
/// `discard` retry an unhashable `set` as the equal `frozenset`.
pub(super) fn lookup_key(v: Value) -> Value {
    match v {
        Value::Set(s) => Value::FrozenSet(s),
        other => other,
    }
}

/// The binary operations.
#[derive(Clone, Copy)]
pub(super) enum Op {
    And,
    Or,
    Sub,
    Xor,
}

impl Op {
    pub(super) fn symbol(self) -> &'static str {
        match self {
            Op::And => "&",
            Op::Or => "|",
            Op::Sub => "-",
            Op::Xor => "^",
        }
    }

    /// `a op b`, members of `a` first.
    pub(super) fn apply(self, a: &Set, b: &Set) -> Result<Set, PyException> {
        let mut out = Set::new();
        match self {
            Op::And => {
                for v in a.iter() {
                    if b.contains(v)? {
                        out.insert(v.clone())?;
                    }
                }
            }
            Op::Or => {
                for v in a.iter().chain(b.iter()) {
                    out.insert(v.clone())?;
                }
            }
            Op::Sub => {
                for v in a.iter() {
                    if !b.contains(v)? {
                        out.insert(v.clone())?;
                    }
                }
            }
            Op::Xor => {
                for v in a.iter() {
                    if !b.contains(v)? {
                        out.insert(v.clone())?;
                    }
                }
                for v in b.iter() {
                    if !a.contains(v)? {
                        out.insert(v.clone())?;
                    }
                }
            }
        }
        Ok(out)
    }
}

pub(super) fn is_subset(a: &Set, b: &Set) -> bool {
    a.len() <= b.len() && a.iter().all(|v| b.contains(v).unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(xs: &[i64]) -> Set {
        Set::from_values(xs.iter().map(|&i| Value::Int(i))).unwrap()
    }

    fn same(a: &Set, b: &Set) -> bool {
        a.len() == b.len() && is_subset(a, b)
    }

    #[test]
    fn operations_match_python() {
        // {1, 2, 3} op {3, 4} in CPython.
        let (a, b) = (set(&[1, 2, 3]), set(&[3, 4]));
        assert!(same(&Op::And.apply(&a, &b).unwrap(), &set(&[3])));
        assert!(same(&Op::Or.apply(&a, &b).unwrap(), &set(&[1, 2, 3, 4])));
        assert!(same(&Op::Sub.apply(&a, &b).unwrap(), &set(&[1, 2])));
        assert!(same(&Op::Xor.apply(&a, &b).unwrap(), &set(&[1, 2, 4])));
        // 1 == 1.0 == True: one member.
        let mixed = Set::from_values([Value::Float(1.0), Value::Bool(true)]).unwrap();
        assert_eq!(Op::Or.apply(&mixed, &set(&[1])).unwrap().len(), 1);
        assert!(is_subset(&set(&[]), &set(&[1])));
        assert!(!is_subset(&set(&[1, 5]), &set(&[1, 2])));
        assert_eq!(
            lookup_key(Value::Set(Box::new(set(&[1])))),
            Value::FrozenSet(Box::new(set(&[1])))
        );
    }
}
