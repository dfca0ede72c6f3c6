//! From the decoder's node graph to a [`Value`] tree, at `STOP`.
//!
//! A value tree has no identity, so a node referenced twice (`a = [1];
//! [a, a]`) is copied, and a reference to a container that encloses the
//! reference (`l = []; l.append(l)`) becomes [`Value::BackRef`] with the
//! number of container levels up (0 = the innermost container holding it;
//! every tuple, list, dict, set, frozenset and object is one level). Only
//! containers that CPython's pickler has memoized at that point can be
//! referred to (see `Node::referable_during`), so the encoder can always
//! write a back-reference as a memo `GET`; a cycle through a tuple is
//! unfolded one more time, as CPython's pickler itself does.
//!
//! Copying is where a small pickle can become a huge value (`a = [x]*n;
//! b = [a, a]; c = [b, b]; …` doubles per level), so every produced value
//! and every copied string byte is charged to the budget, and a linear-time
//! estimate of the tree size refuses such pickles before any copying. The
//! walk is iterative: depth costs heap, not stack.

use super::arena::{payload_len, Budget, Head, Node, NodeId};
use super::error::PickleError;
use super::Limits;
use crate::value::{Build, Dict, Object, OpError, Set, Value};

/// Converts the graph rooted at `root`. Leaves referenced once along a
/// path of single references are moved out of `nodes` rather than copied.
pub(crate) fn to_value(
    nodes: &mut [Node],
    root: NodeId,
    limits: &Limits,
    budget: &mut Budget,
    shared: bool,
) -> Result<Value, PickleError> {
    if !shared {
        // No memo `GET` and no `DUP`: every node has one parent, so the
        // graph is already a tree (nothing to copy, no cycle, no expansion
        // beyond the nodes the parser charged) and every leaf moves out.
        let max_depth = limits.effective_depth();
        if nodes.len() <= SMALL_TREE && !nodes.iter().any(|n| matches!(n, Node::Object(_))) {
            return small_tree(nodes, root, 0, max_depth, budget);
        }
        return Walk {
            on_path: Vec::new(),
            nodes,
            refs: None,
            budget,
            max_depth: limits.effective_depth(),
        }
        .run(root);
    }
    let refs = count_refs(nodes, root);
    estimate(nodes, &refs, root, budget.remaining(), budget.limit())?;
    Walk {
        on_path: vec![None; nodes.len()],
        nodes,
        refs: Some(&refs),
        budget,
        max_depth: limits.effective_depth(),
    }
    .run(root)
}

/// Trees of at most this many nodes (every request and reply of the
/// benchmarks) are converted by plain recursion, at most this deep, which
/// skips the walk's frames and per-node bookkeeping.
const SMALL_TREE: usize = 64;

/// Converts a small tree of built-in containers, moving every leaf out.
/// Charges the budget and checks the depth as the walk does: one unit per
/// value, and a container may open only below `max_depth` others.
fn small_tree(
    nodes: &mut [Node],
    id: NodeId,
    depth: usize,
    max_depth: usize,
    budget: &mut Budget,
) -> Result<Value, PickleError> {
    let Some(node) = nodes.get_mut(id) else {
        return Ok(Value::None);
    };
    if let Node::Leaf(v) = node {
        budget.spend(1)?;
        return Ok(std::mem::replace(v, Value::None));
    }
    if depth >= max_depth {
        return Err(PickleError::DepthExceeded { limit: max_depth });
    }
    budget.spend(1)?;
    let node = std::mem::replace(node, Node::Leaf(Value::None));
    // A plain loop: `collect` into a `Result` cost more than the
    // conversion itself in the request profile.
    let mut convert = |ids: Vec<NodeId>| -> Result<Vec<Value>, PickleError> {
        let mut out = Vec::with_capacity(ids.len());
        for c in ids {
            out.push(small_tree(nodes, c, depth + 1, max_depth, budget)?);
        }
        Ok(out)
    };
    Ok(match node {
        Node::Tuple(ids) => Value::Tuple(convert(ids)?),
        Node::List(ids) => Value::List(convert(ids)?),
        Node::Set(ids) => Value::Set(Box::new(
            Set::from_values(convert(ids)?).map_err(unhashable)?,
        )),
        Node::FrozenSet(ids) => Value::FrozenSet(Box::new(
            Set::from_values(convert(ids)?).map_err(unhashable)?,
        )),
        Node::Dict(pairs) => {
            let mut items = Vec::with_capacity(pairs.len());
            for (k, v) in pairs {
                let k = small_tree(nodes, k, depth + 1, max_depth, budget)?;
                let v = small_tree(nodes, v, depth + 1, max_depth, budget)?;
                items.push((k, v));
            }
            Value::Dict(Box::new(Dict::from_pairs(items).map_err(unhashable)?))
        }
        // Objects take the walk (checked by the caller); leaves are above.
        Node::Leaf(v) => v,
        Node::Object(_) => Value::None,
    })
}

/// Number of references to each node (edges, plus one for the root).
fn count_refs(nodes: &[Node], root: NodeId) -> Vec<u32> {
    let mut refs = vec![0u32; nodes.len()];
    for n in nodes {
        for i in 0..n.len() {
            if let Some(r) = n.child(i).and_then(|c| refs.get_mut(c)) {
                *r = r.saturating_add(1);
            }
        }
    }
    if let Some(r) = refs.get_mut(root) {
        *r = r.saturating_add(1);
    }
    refs
}

/// The cost of one occurrence of a leaf: one value, plus its payload when
/// it is shared (and so will be copied).
fn leaf_cost(v: &Value, refs: u32) -> usize {
    if refs > 1 {
        1 + Budget::copy_units(payload_len(v))
    } else {
        1
    }
}

/// Refuses, in time linear in the graph, a value whose tree would cost more
/// than `remaining`. Each node's tree size is computed once (a reference to a
/// node still being sized counts one, like a back-reference), so for graphs
/// without cycles this is exact; with cycles it may differ from the real
/// walk, which keeps its own exact count.
/// `remaining` is what is left of the budget whose total is `limit`.
fn estimate(
    nodes: &[Node],
    refs: &[u32],
    root: NodeId,
    remaining: usize,
    limit: usize,
) -> Result<(), PickleError> {
    const UNSEEN: u64 = 0;
    const BUSY: u64 = u64::MAX;
    let too_big = || PickleError::TooManyValues { limit };
    let mut size = vec![UNSEEN; nodes.len()];
    // (node, next child, accumulated size)
    let mut stack: Vec<(NodeId, usize, u64)> = vec![(root, 0, 1)];
    if let Some(s) = size.get_mut(root) {
        *s = BUSY;
    }
    while let Some(&mut (node, ref mut next, ref mut acc)) = stack.last_mut() {
        let Some(n) = nodes.get(node) else { break };
        match n.child(*next) {
            Some(c) => {
                *next += 1;
                let leaf = match nodes.get(c) {
                    Some(Node::Leaf(v)) => {
                        Some(leaf_cost(v, refs.get(c).copied().unwrap_or(1)) as u64)
                    }
                    _ => None,
                };
                if let Some(cost) = leaf {
                    *acc = acc.saturating_add(cost);
                    continue;
                }
                match size.get(c).copied() {
                    Some(UNSEEN) => {
                        if let Some(s) = size.get_mut(c) {
                            *s = BUSY;
                        }
                        stack.push((c, 0, 1));
                    }
                    Some(BUSY) | None => *acc = acc.saturating_add(1),
                    Some(known) => *acc = acc.saturating_add(known),
                }
            }
            None => {
                let total = *acc;
                if total > remaining as u64 {
                    return Err(too_big());
                }
                stack.pop();
                if let Some(s) = size.get_mut(node) {
                    *s = total.clamp(1, BUSY - 1);
                }
                if let Some((_, _, parent_acc)) = stack.last_mut() {
                    *parent_acc = parent_acc.saturating_add(total);
                }
            }
        }
    }
    Ok(())
}

/// A container being converted.
struct Frame {
    node: NodeId,
    /// Index of the next child to convert.
    next: usize,
    vals: Vec<Value>,
    /// Every node from the root to this one is referenced once, so this
    /// one is converted once and its leaves can be moved out.
    unique: bool,
    /// Where this node appeared on the path before this frame, restored
    /// when the frame is done.
    prev: Option<usize>,
}

struct Walk<'n, 'b> {
    nodes: &'n mut [Node],
    /// References to each node; `None` for a tree (one each).
    refs: Option<&'n [u32]>,
    budget: &'b mut Budget,
    max_depth: usize,
    /// For each node, the index of its innermost frame on the current path
    /// (empty for a tree, which has no back-references).
    on_path: Vec<Option<usize>>,
}

impl Walk<'_, '_> {
    /// References to `id` (1 in a tree).
    fn refs_of(&self, id: NodeId) -> Option<u32> {
        match self.refs {
            Some(refs) => refs.get(id).copied(),
            None => Some(1),
        }
    }

    fn run(mut self, root: NodeId) -> Result<Value, PickleError> {
        let unique = self.refs_of(root) == Some(1);
        let mut frames: Vec<Frame> = Vec::new();
        if let Some(v) = self.leaf(root, unique)? {
            return Ok(v);
        }
        self.enter(&mut frames, root, unique)?;
        loop {
            let Some(top) = frames.last_mut() else {
                // `enter` pushed the root and only a finished root pops the
                // last frame, which returns below.
                return Ok(Value::None);
            };
            let child = self.nodes.get(top.node).and_then(|n| n.child(top.next));
            if let Some(c) = child {
                top.next += 1;
                let unique = top.unique && self.refs_of(c) == Some(1);
                if let Some(v) = self.leaf(c, unique)? {
                    top.vals.push(v);
                } else if let Some(levels) = self.back_ref(&frames, c) {
                    self.budget.spend(1)?;
                    if let Some(top) = frames.last_mut() {
                        top.vals.push(Value::BackRef(levels));
                    }
                } else {
                    self.enter(&mut frames, c, unique)?;
                }
                continue;
            }
            // All children converted: build this container.
            let Some(done) = frames.pop() else { break };
            if let Some(slot) = self.on_path.get_mut(done.node) {
                *slot = done.prev;
            }
            let v = match self.nodes.get(done.node) {
                Some(n) => build(n, done.vals)?,
                None => Value::None,
            };
            match frames.last_mut() {
                Some(parent) => parent.vals.push(v),
                None => return Ok(v),
            }
        }
        Ok(Value::None)
    }

    /// The value of a leaf node (moved out when `unique`), or `None` for a
    /// container.
    fn leaf(&mut self, id: NodeId, unique: bool) -> Result<Option<Value>, PickleError> {
        let refs = self.refs_of(id).unwrap_or(1);
        match self.nodes.get_mut(id) {
            Some(Node::Leaf(v)) => {
                if unique {
                    self.budget.spend(1)?;
                    Ok(Some(std::mem::replace(v, Value::None)))
                } else {
                    self.budget.spend(leaf_cost(v, refs.max(2)))?;
                    Ok(Some(v.clone()))
                }
            }
            Some(_) => Ok(None),
            // Node ids come from the arena the decoder built.
            None => Ok(Some(Value::None)),
        }
    }

    /// Levels up to the innermost occurrence of `id` on the path, when that
    /// occurrence can be referred to (see `Node::referable_during`).
    fn back_ref(&self, frames: &[Frame], id: NodeId) -> Option<usize> {
        let at = self.on_path.get(id).copied().flatten()?;
        let frame = frames.get(at)?;
        let node = self.nodes.get(frame.node)?;
        // `next` was advanced past the child being converted in that frame.
        if !node.referable_during(frame.next.saturating_sub(1)) {
            return None;
        }
        Some(frames.len() - 1 - at)
    }

    fn enter(
        &mut self,
        frames: &mut Vec<Frame>,
        id: NodeId,
        unique: bool,
    ) -> Result<(), PickleError> {
        if frames.len() >= self.max_depth {
            return Err(PickleError::DepthExceeded {
                limit: self.max_depth,
            });
        }
        self.budget.spend(1)?;
        let len = self.nodes.get(id).map_or(0, Node::len);
        let prev = self.on_path.get(id).copied().flatten();
        if let Some(slot) = self.on_path.get_mut(id) {
            *slot = Some(frames.len());
        }
        frames.push(Frame {
            node: id,
            next: 0,
            vals: Vec::with_capacity(len),
            unique,
            prev,
        });
        Ok(())
    }
}

fn unhashable(e: OpError) -> PickleError {
    match e {
        OpError::Unhashable(type_name) => PickleError::Unhashable { type_name },
        other => PickleError::Unhashable {
            type_name: other.to_string(),
        },
    }
}

fn into_pairs(vals: Vec<Value>) -> Vec<(Value, Value)> {
    let mut it = vals.into_iter();
    let mut pairs = Vec::with_capacity(it.len() / 2);
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        pairs.push((k, v));
    }
    pairs
}

/// The value of a container node from its converted children (in the
/// order `Node::child` yields them).
fn build(node: &Node, vals: Vec<Value>) -> Result<Value, PickleError> {
    Ok(match node {
        Node::Leaf(v) => v.clone(),
        Node::Tuple(_) => Value::Tuple(vals),
        Node::List(_) => Value::List(vals),
        Node::Set(_) => Value::Set(Box::new(Set::from_values(vals).map_err(unhashable)?)),
        Node::FrozenSet(_) => {
            Value::FrozenSet(Box::new(Set::from_values(vals).map_err(unhashable)?))
        }
        Node::Dict(_) => Value::Dict(Box::new(
            Dict::from_pairs(into_pairs(vals)).map_err(unhashable)?,
        )),
        Node::Object(o) => {
            let mut it = vals.into_iter();
            let mut next = || it.next().unwrap_or(Value::None);
            let build = match o.head {
                Head::Reduce { .. } => Build::Reduce {
                    callable: next(),
                    args: next(),
                },
                Head::NewObj { kwargs, .. } => Build::NewObj {
                    cls: next(),
                    args: next(),
                    kwargs: kwargs.map(|_| next()),
                },
            };
            let list_items = (0..o.list_items.len()).map(|_| next()).collect();
            let flat: Vec<Value> = (0..o.dict_items.len() * 2).map(|_| next()).collect();
            let dict_items = into_pairs(flat);
            let state = o.state.map(|_| next());
            Value::Object(Box::new(Object {
                build,
                list_items,
                dict_items,
                state,
            }))
        }
    })
}
