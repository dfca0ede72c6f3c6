//! The decoder's fast path: a pickle that is a plain tree of built-in
//! values, decoded straight into [`Value`]s.
//!
//! Almost every request and reply is such a tree: `(id, method, args,
//! kwds)` of strings, numbers and small containers, each memoized once and
//! never fetched back. For those the node arena, the memo and the
//! conversion at `STOP` (`decode.rs`, `convert.rs`) are pure overhead; they
//! were about a quarter of the server's instructions per pipelined request.
//!
//! This path understands only the opcodes such pickles use, and only their
//! well-formed use. It gives up (returns `None`) on anything else: a memo
//! `GET` or `DUP` (the value would be shared), globals and object
//! construction, the text opcodes of protocols 0 and 1, any malformed or
//! over-limit input, a tree deeper than [`MAX_HEIGHT`], an unhashable key.
//! The caller then decodes the same bytes with the full machine, which
//! produces the value or the exact error. So the result never depends on
//! which path ran: the tests decode every pickle of the suite both ways.

use super::opcode as op;
use super::reader::Reader;
use super::Limits;
use crate::value::{Dict, Set, Value};
use num_bigint::BigInt;

/// Deepest tree (containers nested) this path builds; deeper ones take the
/// full machine, which checks the depth limit.
const MAX_HEIGHT: u16 = 32;

/// A stack item: a finished value, or a container that `APPEND(S)`,
/// `SETITEM(S)` or `ADDITEMS` may still fill. Containers become values when
/// something consumes them (no `GET` can reach them again).
enum Slot {
    Done(Value),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Set(Vec<Value>),
}

struct Item {
    slot: Slot,
    /// Containers on the longest path down: 0 for a scalar.
    height: u16,
}

impl Item {
    fn leaf(v: Value) -> Item {
        Item {
            slot: Slot::Done(v),
            height: 0,
        }
    }

    /// The finished value; `None` for an unhashable dict key or set member.
    fn value(self) -> Option<Value> {
        Some(match self.slot {
            Slot::Done(v) => v,
            Slot::List(items) => Value::List(items),
            Slot::Dict(pairs) => Value::Dict(Box::new(Dict::from_pairs(pairs).ok()?)),
            Slot::Set(items) => Value::Set(Box::new(Set::from_values(items).ok()?)),
        })
    }
}

/// Decodes `data` if it is a plain tree (see the module text); the value
/// and the protocol its `PROTO` named.
pub(crate) fn decode(data: &[u8], limits: &Limits) -> Option<(Value, u8)> {
    // The stack's buffer is kept per thread: no allocation per request.
    let mut stack = SCRATCH.take();
    let decoded = run(data, limits, &mut stack);
    stack.clear();
    if stack.capacity() <= SCRATCH_KEEP {
        SCRATCH.set(stack);
    }
    decoded
}

thread_local! {
    static SCRATCH: std::cell::Cell<Vec<Item>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Largest stack buffer kept between decodes, in items.
const SCRATCH_KEEP: usize = 256;

fn run(data: &[u8], limits: &Limits, stack: &mut Vec<Item>) -> Option<(Value, u8)> {
    let mut r = Reader::new(data);
    let mut marks = Marks::default();
    let mut proto = 0;
    // Values made; the full machine charges each twice (parsed, converted).
    let mut made: usize = 0;
    let budget = limits.max_values / 2;
    let max_height = MAX_HEIGHT.min(u16::try_from(limits.effective_depth()).unwrap_or(u16::MAX));
    loop {
        let code = r.u8().ok()?;
        let item = match code {
            op::STOP => {
                // One value and no open mark: anything else (extra items,
                // which `pickle.loads` ignores) is left to the full machine.
                if stack.len() != 1 || marks.len != 0 {
                    return None;
                }
                return Some((stack.pop()?.value()?, proto));
            }
            op::PROTO => {
                proto = r.u8().ok()?;
                if proto > op::HIGHEST_PROTOCOL {
                    return None;
                }
                continue;
            }
            op::FRAME => {
                let n = r.u64_le().ok()?;
                if usize::try_from(n).ok()? > r.remaining() {
                    return None;
                }
                continue;
            }
            // Nothing is fetched back (a `GET` gives up), so the memo need
            // not exist; a `PUT` still needs an item above the fence.
            op::MEMOIZE | op::BINPUT | op::LONG_BINPUT => {
                match code {
                    op::BINPUT => drop(r.u8().ok()?),
                    op::LONG_BINPUT => drop(r.u32_le().ok()?),
                    _ => {}
                }
                if stack.len() <= marks.fence() {
                    return None;
                }
                continue;
            }
            op::MARK => {
                marks.push(stack.len())?;
                continue;
            }
            op::NONE => Item::leaf(Value::None),
            op::NEWTRUE => Item::leaf(Value::Bool(true)),
            op::NEWFALSE => Item::leaf(Value::Bool(false)),
            op::BININT1 => Item::leaf(Value::Int(r.u8().ok()?.into())),
            op::BININT2 => Item::leaf(Value::Int(r.u16_le().ok()?.into())),
            op::BININT => Item::leaf(Value::Int(r.i32_le().ok()?.into())),
            op::LONG1 => {
                let n = r.u8().ok()?;
                let b = payload(&mut r, n.into(), limits)?;
                Item::leaf(Value::from_bigint(BigInt::from_signed_bytes_le(b)))
            }
            op::BINFLOAT => Item::leaf(Value::Float(f64::from_be_bytes(r.array().ok()?))),
            op::SHORT_BINUNICODE => {
                let n = r.u8().ok()?;
                Item::leaf(Value::Str(text(&mut r, n.into(), limits)?))
            }
            op::BINUNICODE => {
                let n = r.u32_le().ok()?;
                Item::leaf(Value::Str(text(&mut r, n.into(), limits)?))
            }
            op::BINUNICODE8 => {
                let n = r.u64_le().ok()?;
                Item::leaf(Value::Str(text(&mut r, n, limits)?))
            }
            op::SHORT_BINBYTES => {
                let n = r.u8().ok()?;
                Item::leaf(Value::Bytes(payload(&mut r, n.into(), limits)?.to_vec()))
            }
            op::BINBYTES => {
                let n = r.u32_le().ok()?;
                Item::leaf(Value::Bytes(payload(&mut r, n.into(), limits)?.to_vec()))
            }
            op::BINBYTES8 => {
                let n = r.u64_le().ok()?;
                Item::leaf(Value::Bytes(payload(&mut r, n, limits)?.to_vec()))
            }
            op::BYTEARRAY8 => {
                let n = r.u64_le().ok()?;
                Item::leaf(Value::ByteArray(payload(&mut r, n, limits)?.to_vec()))
            }
            op::EMPTY_TUPLE => container(Slot::Done(Value::Tuple(Vec::new())), 0, max_height)?,
            op::TUPLE1 | op::TUPLE2 | op::TUPLE3 => {
                let n = usize::from(code - op::TUPLE1) + 1;
                let at = stack.len().checked_sub(n)?;
                if at < marks.fence() {
                    return None;
                }
                let (items, height) = finish(stack.drain(at..))?;
                container(Slot::Done(Value::Tuple(items)), height, max_height)?
            }
            op::TUPLE | op::LIST | op::FROZENSET => {
                let at = marks.pop()?;
                if at > stack.len() {
                    return None;
                }
                let (items, height) = finish(stack.drain(at..))?;
                let slot = match code {
                    op::TUPLE => Slot::Done(Value::Tuple(items)),
                    op::LIST => Slot::List(items),
                    _ => Slot::Done(Value::FrozenSet(Box::new(Set::from_values(items).ok()?))),
                };
                container(slot, height, max_height)?
            }
            op::EMPTY_LIST => container(Slot::List(Vec::new()), 0, max_height)?,
            op::EMPTY_DICT => container(Slot::Dict(Vec::new()), 0, max_height)?,
            op::EMPTY_SET => container(Slot::Set(Vec::new()), 0, max_height)?,
            op::APPEND | op::APPENDS | op::SETITEM | op::SETITEMS | op::ADDITEMS => {
                let at = match code {
                    op::APPEND => stack.len().checked_sub(1)?,
                    op::SETITEM => stack.len().checked_sub(2)?,
                    _ => marks.pop()?,
                };
                // The container sits right below the items, above any
                // older mark.
                let target = at.checked_sub(1)?;
                if target < marks.fence() || at > stack.len() {
                    return None;
                }
                let (items, height) = finish(stack.drain(at..))?;
                let t = stack.get_mut(target)?;
                t.height = t.height.max(height.checked_add(1)?);
                if t.height > max_height {
                    return None;
                }
                match (&mut t.slot, code) {
                    (Slot::List(l), op::APPEND | op::APPENDS) => l.extend(items),
                    (Slot::Set(s), op::ADDITEMS) => s.extend(items),
                    (Slot::Dict(d), op::SETITEM | op::SETITEMS) => {
                        if items.len() % 2 != 0 {
                            return None;
                        }
                        let mut it = items.into_iter();
                        while let (Some(k), Some(v)) = (it.next(), it.next()) {
                            d.push((k, v));
                        }
                    }
                    _ => return None,
                }
                continue;
            }
            // Everything else: the full machine.
            _ => return None,
        };
        made += 1;
        if made > budget {
            return None;
        }
        stack.push(item);
    }
}

/// The open marks (stack heights), innermost last. Inline: a request
/// opens one or two; a pickle nesting more than [`MAX_MARKS`] gives up.
#[derive(Default)]
struct Marks {
    at: [usize; MAX_MARKS],
    len: usize,
}

const MAX_MARKS: usize = 16;

impl Marks {
    fn push(&mut self, height: usize) -> Option<()> {
        *self.at.get_mut(self.len)? = height;
        self.len += 1;
        Some(())
    }

    fn pop(&mut self) -> Option<usize> {
        self.len = self.len.checked_sub(1)?;
        self.at.get(self.len).copied()
    }

    /// Items below this stack height belong to an outer mark.
    fn fence(&self) -> usize {
        self.len
            .checked_sub(1)
            .and_then(|i| self.at.get(i).copied())
            .unwrap_or(0)
    }
}

/// A container item `height` levels above its deepest child.
fn container(slot: Slot, children: u16, max_height: u16) -> Option<Item> {
    let height = children.checked_add(1)?;
    (height <= max_height).then_some(Item { slot, height })
}

/// The values of `items` and the height of the tallest.
fn finish(items: impl Iterator<Item = Item>) -> Option<(Vec<Value>, u16)> {
    let mut height = 0;
    let mut out = Vec::with_capacity(items.size_hint().0);
    for item in items {
        height = height.max(item.height);
        out.push(item.value()?);
    }
    Some((out, height))
}

fn payload<'a>(r: &mut Reader<'a>, declared: u64, limits: &Limits) -> Option<&'a [u8]> {
    r.payload(declared, limits.max_len, "", 0).ok()
}

/// A pickled `str`: well-formed UTF-8 only (encoded surrogates, which the
/// full machine refuses by name, give up here).
fn text(r: &mut Reader<'_>, declared: u64, limits: &Limits) -> Option<String> {
    let b = payload(r, declared, limits)?;
    std::str::from_utf8(b).ok().map(str::to_owned)
}
