//! Taking a value out of a container that it refers back to.
//!
//! A value tree holds a cycle as a [`Value::BackRef`] that climbs to an
//! enclosing container. Taken out of that container on its own (`list(x)`
//! for `x = [x]` takes `x`'s one item), such a reference would climb to
//! whatever encloses the item next, or to nothing: `list(x)` would become
//! a list that contains itself, and the item alone a bare reference. In
//! CPython `list(x)` is `[x]`: a new list holding `x`, whose item is `x`
//! again. So the item keeps the cycle, re-rooted at itself: a reference to
//! the container becomes the container, whose slot that held the item
//! refers back to the item. For `x = [1, L]`, `L = [x]`, the item `L`
//! becomes `[[1, <L>]]`, which prints `[[1, [...]]]` as in CPython.

use super::{Build, Object, OpError, Value};

/// Where an item sits in its container.
#[derive(Clone, Copy)]
enum Slot<'a> {
    Index(usize),
    Key(&'a Value),
}

/// Least number of values the copies made for one container may add: a
/// container is copied once per reference to it in the item taken out, so
/// a hostile pickle holding many such references next to a large sibling
/// would otherwise multiply its size.
const COPY_BUDGET_MIN: usize = 1 << 20;

impl Value {
    /// The items of a list or tuple, each as a value of its own (`list(x)`,
    /// `l.extend(x)`); `None` for other values. Fails when the copies would
    /// hold more than four times the container's values (and more than
    /// about a million).
    pub fn detached_items(&self) -> Result<Option<Vec<Value>>, OpError> {
        match self {
            Value::List(items) | Value::Tuple(items) => {
                // No reference back (the usual case): plain copies, no
                // second walk.
                if check_budget(self, items.iter())? == 0 {
                    return Ok(Some(items.clone()));
                }
                Ok(Some(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| detach(item, self, Slot::Index(i)))
                        .collect(),
                ))
            }
            _ => Ok(None),
        }
    }

    /// The pairs of a dict, each value as a value of its own (`dict(d)`);
    /// `None` for other values. Keys are hashable: they hold no list, so
    /// no reference back.
    pub fn detached_pairs(&self) -> Result<Option<Vec<(Value, Value)>>, OpError> {
        match self {
            Value::Dict(d) => {
                if check_budget(self, d.values())? == 0 {
                    return Ok(Some(
                        d.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    ));
                }
                Ok(Some(
                    d.iter()
                        .map(|(k, v)| (k.clone(), detach(v, self, Slot::Key(k))))
                        .collect(),
                ))
            }
            _ => Ok(None),
        }
    }
}

/// How many copies of `container` taking `items` out of it makes; refuses
/// when they would be too many values.
fn check_budget<'a>(
    container: &Value,
    items: impl Iterator<Item = &'a Value>,
) -> Result<usize, OpError> {
    let copies: usize = items.map(|i| refs_out(i, 0)).sum();
    if copies == 0 {
        return Ok(0);
    }
    let size = count_values(container);
    let cost = copies.saturating_mul(size);
    let budget = size.saturating_mul(4).max(COPY_BUDGET_MIN);
    if cost > budget {
        return Err(OpError::TooLarge(format!(
            "taking apart this value, which refers to itself {copies} times, would copy it {copies} times ({cost} values; the limit is {budget})"
        )));
    }
    Ok(copies)
}

/// How many `BackRef`s in `v` climb exactly to the container `v` was
/// taken from (`depth` as in [`climbs_out`]).
fn refs_out(v: &Value, depth: usize) -> usize {
    match v {
        Value::BackRef(n) => usize::from(*n == depth),
        Value::Tuple(items) | Value::List(items) => {
            items.iter().map(|i| refs_out(i, depth + 1)).sum()
        }
        Value::Dict(d) => d.values().map(|x| refs_out(x, depth + 1)).sum(),
        Value::Object(o) => parts(o).map(|p| refs_out(p, depth + 1)).sum(),
        _ => 0,
    }
}

/// Values in `v`, itself included.
fn count_values(v: &Value) -> usize {
    1 + match v {
        Value::Tuple(items) | Value::List(items) => items.iter().map(count_values).sum(),
        Value::Dict(d) => d
            .iter()
            .map(|(k, x)| count_values(k) + count_values(x))
            .sum(),
        Value::Set(s) | Value::FrozenSet(s) => s.iter().map(count_values).sum(),
        Value::Object(o) => parts(o).map(count_values).sum(),
        _ => 0,
    }
}

/// `item`, found at `slot` of `container`, as a value of its own.
fn detach(item: &Value, container: &Value, slot: Slot<'_>) -> Value {
    let mut out = item.clone();
    if climbs_out(&out, 0) {
        rewrite(&mut out, 0, &|depth| rerooted(container, slot, depth));
    }
    out
}

/// `container` placed `depth` levels below the detached item, its `slot`
/// referring back up to the item.
fn rerooted(container: &Value, slot: Slot<'_>, depth: usize) -> Value {
    let mut c = container.clone();
    let target = match (&mut c, slot) {
        (Value::List(items) | Value::Tuple(items), Slot::Index(i)) => items.get_mut(i),
        (Value::Dict(d), Slot::Key(k)) => d.get_mut(k).ok().flatten(),
        _ => None,
    };
    if let Some(t) = target {
        *t = Value::BackRef(depth);
    }
    c
}

/// Whether a `BackRef` in `v`, `depth` containers below the one `v` was
/// taken from, climbs to that container or past it.
fn climbs_out(v: &Value, depth: usize) -> bool {
    match v {
        Value::BackRef(n) => *n >= depth,
        Value::Tuple(items) | Value::List(items) => items.iter().any(|i| climbs_out(i, depth + 1)),
        // Keys are hashable, so they hold no list and no `BackRef`.
        Value::Dict(d) => d.values().any(|x| climbs_out(x, depth + 1)),
        Value::Object(o) => parts(o).any(|p| climbs_out(p, depth + 1)),
        _ => false,
    }
}

fn rewrite(v: &mut Value, depth: usize, container_at: &dyn Fn(usize) -> Value) {
    match v {
        Value::BackRef(n) if *n == depth => *v = container_at(depth),
        // Past the container: one level fewer now that it is not in between.
        Value::BackRef(n) if *n > depth => *n -= 1,
        Value::Tuple(items) | Value::List(items) => {
            for i in items {
                rewrite(i, depth + 1, container_at);
            }
        }
        Value::Dict(d) => {
            for x in d.values_mut() {
                rewrite(x, depth + 1, container_at);
            }
        }
        Value::Object(o) => {
            for p in parts_mut(o) {
                rewrite(p, depth + 1, container_at);
            }
        }
        _ => {}
    }
}

/// The values an object is built from, each one level below the object
/// (as the decoder counts them).
fn parts(o: &Object) -> impl Iterator<Item = &Value> {
    let build: Vec<&Value> = match &o.build {
        Build::Reduce { callable, args } => vec![callable, args],
        Build::NewObj { cls, args, kwargs } => [Some(cls), Some(args), kwargs.as_ref()]
            .into_iter()
            .flatten()
            .collect(),
    };
    build
        .into_iter()
        .chain(o.list_items.iter())
        .chain(o.dict_items.iter().flat_map(|(k, v)| [k, v]))
        .chain(o.state.iter())
}

fn parts_mut(o: &mut Object) -> Vec<&mut Value> {
    let mut out: Vec<&mut Value> = match &mut o.build {
        Build::Reduce { callable, args } => vec![callable, args],
        Build::NewObj { cls, args, kwargs } => {
            let mut v = vec![cls, args];
            v.extend(kwargs.as_mut());
            v
        }
    };
    out.extend(o.list_items.iter_mut());
    out.extend(o.dict_items.iter_mut().flat_map(|(k, v)| [k, v]));
    out.extend(o.state.as_mut());
    out
}

#[cfg(test)]
mod tests {
    use crate::value::Dict;
    use crate::{OpError, Value};

    fn list(items: Vec<Value>) -> Value {
        Value::List(items)
    }

    fn is_self_ref(v: &Value) -> bool {
        matches!(v, Value::List(items) if matches!(items[..], [Value::BackRef(0)]))
    }

    /// `x = [x]`; `list(x)` is `[x]`: its item is `x`, which contains
    /// itself, and the whole prints as CPython prints `list(x)`.
    #[test]
    fn a_reference_to_the_container_becomes_the_container() {
        let x = list(vec![Value::BackRef(0)]);
        let items = x.detached_items().unwrap().unwrap();
        assert!(is_self_ref(&items[0]), "{items:?}");
        assert_eq!(items[0].repr(), "[[...]]");
        assert_eq!(list(items).repr(), "[[[...]]]");
    }

    /// `x = [1]; L = [x]; x.append(L)`: `list(x)[1]` is `L`, and `L[0][1]
    /// is L` (CPython prints it `[[1, [...]]]`).
    #[test]
    fn the_cycle_is_rerooted_at_the_item() {
        let x = list(vec![Value::Int(1), list(vec![Value::BackRef(1)])]);
        let items = x.detached_items().unwrap().unwrap();
        assert_eq!(items[1].repr(), "[[1, [...]]]");
        assert!(
            matches!(&items[1], Value::List(l) if matches!(&l[..], [Value::List(x)] if matches!(x[..], [Value::Int(1), Value::BackRef(1)]))),
            "{:?}",
            items[1]
        );
        // A cycle of the item's own is left alone.
        let inner = list(vec![Value::BackRef(0)]);
        let y = list(vec![inner]);
        assert!(is_self_ref(&y.detached_items().unwrap().unwrap()[0]));
    }

    /// `d = {}; d['me'] = d`: `dict(d)['me']` is `d`, whose `'me'` is
    /// itself.
    #[test]
    fn dict_values_are_detached() {
        let d = Value::Dict(Box::new(
            Dict::from_pairs([
                (Value::Str("me".into()), Value::BackRef(0)),
                (Value::Str("n".into()), Value::Int(3)),
            ])
            .unwrap(),
        ));
        let pairs = d.detached_pairs().unwrap().unwrap();
        assert_eq!(pairs[0].1.repr(), "{'me': {...}, 'n': 3}");
        assert!(matches!(&pairs[0].1, Value::Dict(inner)
            if matches!(inner.get(&Value::Str("me".into())), Ok(Some(Value::BackRef(0))))));
        assert!(matches!(pairs[1].1, Value::Int(3)));
    }

    /// `x = [L, big]`, `L = [x] * 2000`: taking `L` out would copy `x`,
    /// big sibling included, 2,000 times; refused rather than multiplied.
    #[test]
    fn copies_are_bounded() {
        let big = list((0..2000).map(Value::Int).collect());
        let l = list(vec![Value::BackRef(1); 2000]);
        let x = list(vec![l, big]);
        let e = x.detached_items().unwrap_err();
        assert!(matches!(e, OpError::TooLarge(_)), "{e:?}");
        // One reference to a big container is what CPython's sharing
        // costs us: allowed.
        let one = list(vec![
            list(vec![Value::BackRef(1)]),
            list((0..100_000).map(Value::Int).collect()),
        ]);
        assert_eq!(one.detached_items().unwrap().unwrap().len(), 2);
    }
}
