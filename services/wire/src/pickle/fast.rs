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
use crate::value::{Set, Value};
use num_bigint::BigInt;

/// Deepest tree (containers nested) this path builds; deeper ones take the
/// full machine, which checks the depth limit.
const MAX_HEIGHT: u16 = 32;

/// The machine's stack: values, with the height of each (containers on its
/// longest path down: 0 for a scalar). A list, dict or set on it may still
/// be filled by `APPEND(S)`, `SETITEM(S)` or `ADDITEMS`; no `GET` can reach
/// it once something consumes it, so it is built in place.
#[derive(Default)]
struct Stack {
    values: Vec<Value>,
    heights: Vec<u16>,
}

impl Stack {
    fn len(&self) -> usize {
        self.values.len()
    }

    fn push(&mut self, v: Value, height: u16) {
        self.values.push(v);
        self.heights.push(height);
    }

    /// Removes the items from `at` on: their values and the tallest height.
    fn split(&mut self, at: usize) -> Option<(Vec<Value>, u16)> {
        if at > self.values.len() {
            return None;
        }
        let height = self.heights.drain(at..).max().unwrap_or(0);
        Some((self.values.split_off(at), height))
    }

    fn clear(&mut self) {
        self.values.clear();
        self.heights.clear();
    }
}

/// Decodes `data` if it is a plain tree (see the module text); the value
/// and the protocol its `PROTO` named.
pub(crate) fn decode(data: &[u8], limits: &Limits) -> Option<(Value, u8)> {
    // The stack's buffer is kept per thread: no allocation per request.
    // (`try_with`: a thread being torn down gets a fresh stack.)
    let mut stack = SCRATCH.try_with(std::cell::Cell::take).unwrap_or_default();
    let decoded = run(data, limits, &mut stack);
    stack.clear();
    if stack.values.capacity() <= SCRATCH_KEEP {
        let _ = SCRATCH.try_with(|s| s.set(stack));
    }
    decoded
}

thread_local! {
    static SCRATCH: std::cell::Cell<Stack> = const {
        std::cell::Cell::new(Stack { values: Vec::new(), heights: Vec::new() })
    };
}

/// Largest stack buffer kept between decodes, in items.
const SCRATCH_KEEP: usize = 256;

fn run(data: &[u8], limits: &Limits, stack: &mut Stack) -> Option<(Value, u8)> {
    let mut r = Reader::new(data);
    let mut marks = Marks::default();
    let mut proto = 0;
    // Values made; the full machine charges each twice (parsed, converted).
    let mut made: usize = 0;
    let budget = limits.value_budget(data.len()) / 2;
    let max_height = MAX_HEIGHT.min(u16::try_from(limits.effective_depth()).unwrap_or(u16::MAX));
    loop {
        let code = r.u8().ok()?;
        let (value, height) = match code {
            op::STOP => {
                // One value and no open mark: anything else (extra items,
                // which `pickle.loads` ignores) is left to the full machine.
                if stack.len() != 1 || marks.len != 0 {
                    return None;
                }
                return Some((stack.values.pop()?, proto));
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
            op::NONE => leaf(Value::None),
            op::NEWTRUE => leaf(Value::Bool(true)),
            op::NEWFALSE => leaf(Value::Bool(false)),
            op::BININT1 => leaf(Value::Int(r.u8().ok()?.into())),
            op::BININT2 => leaf(Value::Int(r.u16_le().ok()?.into())),
            op::BININT => leaf(Value::Int(r.i32_le().ok()?.into())),
            op::LONG1 => {
                let n = r.u8().ok()?;
                let b = payload(&mut r, n.into(), limits)?;
                leaf(Value::from_bigint(BigInt::from_signed_bytes_le(b)))
            }
            op::BINFLOAT => leaf(Value::Float(f64::from_be_bytes(r.array().ok()?))),
            op::SHORT_BINUNICODE => {
                let n = r.u8().ok()?;
                leaf(Value::Str(text(&mut r, n.into(), limits)?))
            }
            op::BINUNICODE => {
                let n = r.u32_le().ok()?;
                leaf(Value::Str(text(&mut r, n.into(), limits)?))
            }
            op::BINUNICODE8 => {
                let n = r.u64_le().ok()?;
                leaf(Value::Str(text(&mut r, n, limits)?))
            }
            op::SHORT_BINBYTES => {
                let n = r.u8().ok()?;
                leaf(Value::Bytes(payload(&mut r, n.into(), limits)?.to_vec()))
            }
            op::BINBYTES => {
                let n = r.u32_le().ok()?;
                leaf(Value::Bytes(payload(&mut r, n.into(), limits)?.to_vec()))
            }
            op::BINBYTES8 => {
                let n = r.u64_le().ok()?;
                leaf(Value::Bytes(payload(&mut r, n, limits)?.to_vec()))
            }
            op::BYTEARRAY8 => {
                let n = r.u64_le().ok()?;
                leaf(Value::ByteArray(payload(&mut r, n, limits)?.to_vec()))
            }
            op::EMPTY_TUPLE => (Value::Tuple(Vec::new()), above(0, max_height)?),
            op::TUPLE1 | op::TUPLE2 | op::TUPLE3 => {
                let n = usize::from(code - op::TUPLE1) + 1;
                let at = stack.len().checked_sub(n)?;
                if at < marks.fence() {
                    return None;
                }
                let (items, height) = stack.split(at)?;
                (Value::Tuple(items), above(height, max_height)?)
            }
            op::TUPLE | op::LIST | op::FROZENSET => {
                let at = marks.pop()?;
                let (items, height) = stack.split(at)?;
                let v = match code {
                    op::TUPLE => Value::Tuple(items),
                    op::LIST => Value::List(items),
                    _ => Value::FrozenSet(Box::new(Set::from_values(items).ok()?)),
                };
                (v, above(height, max_height)?)
            }
            op::EMPTY_LIST => (Value::List(Vec::new()), above(0, max_height)?),
            op::EMPTY_DICT => (Value::Dict(Box::default()), above(0, max_height)?),
            op::EMPTY_SET => (Value::Set(Box::default()), above(0, max_height)?),
            op::APPEND | op::APPENDS | op::SETITEM | op::SETITEMS | op::ADDITEMS => {
                let at = match code {
                    op::APPEND => stack.len().checked_sub(1)?,
                    op::SETITEM => stack.len().checked_sub(2)?,
                    _ => marks.pop()?,
                };
                // The container sits right below the items, above any
                // older mark.
                let target = at.checked_sub(1)?;
                if target < marks.fence() {
                    return None;
                }
                let (items, height) = stack.split(at)?;
                let h = stack.heights.get_mut(target)?;
                *h = (*h).max(above(height, max_height)?);
                match (stack.values.get_mut(target)?, code) {
                    (Value::List(l), op::APPEND | op::APPENDS) => l.extend(items),
                    (Value::Set(set), op::ADDITEMS) => {
                        for v in items {
                            set.insert(v).ok()?;
                        }
                    }
                    (Value::Dict(d), op::SETITEM | op::SETITEMS) => {
                        if items.len() % 2 != 0 {
                            return None;
                        }
                        let mut it = items.into_iter();
                        while let (Some(k), Some(v)) = (it.next(), it.next()) {
                            d.insert(k, v).ok()?;
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
        stack.push(value, height);
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

/// A scalar: height 0.
fn leaf(v: Value) -> (Value, u16) {
    (v, 0)
}

/// The height of a container whose tallest item has `height`; `None`
/// (give up) above `max_height`.
fn above(height: u16, max_height: u16) -> Option<u16> {
    height.checked_add(1).filter(|h| *h <= max_height)
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
