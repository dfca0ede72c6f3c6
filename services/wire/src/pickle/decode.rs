//! The pickle parser: one `match` on the opcode, no code execution.
//!
//! [`Machine`] runs a pickle of protocol 0 to 5 the way CPython's C
//! unpickler (`_pickle.c`, `load()`) runs it, with the same stack, mark and
//! memo rules, but every "object" is a node of the arena (`arena.rs`):
//! globals are names, calls are recorded (`REDUCE`, `NEWOBJ`, `INST`, …),
//! and the few calls that build built-in values become those values
//! (`known.rs`). At `STOP` the graph is handed to `convert.rs`. The stack,
//! memo and operand helpers the `match` calls are in `ops.rs`.
//!
//! Stack discipline follows `_pickle.c`: `MARK` fences the stack, an opcode
//! may only pop items above the latest fence (else [`PickleError::StackUnderflow`]),
//! and `POP` on an empty fenced stack removes the mark instead.

use super::arena::{Budget, Head, Node, NodeId, ObjNode};
use super::error::PickleError;
use super::known::native_reduce;
use super::memo::Memo;
use super::opcode::{self as op, name};
use super::reader::Reader;
use super::text;
use super::Limits;
use crate::Value;

/// The unpickler state for one pickle.
pub(crate) struct Machine<'a> {
    pub(super) r: Reader<'a>,
    pub(super) max_len: usize,
    pub(crate) nodes: Vec<Node>,
    pub(super) stack: Vec<NodeId>,
    pub(super) marks: Vec<usize>,
    pub(super) memo: Memo,
    /// Whether a node may be referenced twice (a memo `GET` or `DUP` ran):
    /// without one the graph is a tree and needs no expansion estimate.
    pub(crate) shared: bool,
    pub(crate) proto: u8,
    pub(crate) budget: Budget,
    /// Offset of the opcode being run, for errors.
    pub(super) at: usize,
    /// The opcode being run, named in errors.
    pub(super) code: u8,
}

impl<'a> Machine<'a> {
    pub(crate) fn new(data: &'a [u8], limits: &Limits) -> Self {
        Machine {
            r: Reader::new(data),
            max_len: limits.max_len,
            // A request or reply is a handful of nodes: one allocation
            // each instead of several regrowths.
            nodes: Vec::with_capacity(data.len().min(1024) / 4),
            stack: Vec::with_capacity(8),
            marks: Vec::new(),
            memo: Memo::default(),
            shared: false,
            proto: 0,
            budget: Budget::new(limits.value_budget(data.len())),
            at: 0,
            code: 0,
        }
    }

    /// Runs until `STOP`; returns the node on top of the stack.
    pub(crate) fn run(&mut self) -> Result<NodeId, PickleError> {
        loop {
            self.at = self.r.pos();
            let code = self.r.u8()?;
            // `step` refuses an unknown opcode.
            self.code = code;
            if code == op::STOP {
                return self.pop();
            }
            self.step(code)?;
        }
    }

    /// The name of the opcode being run, for errors.
    pub(super) fn opname(&self) -> &'static str {
        name(self.code).unwrap_or("?")
    }

    fn step(&mut self, code: u8) -> Result<(), PickleError> {
        match code {
            op::PROTO => {
                let v = self.r.u8()?;
                if v > op::HIGHEST_PROTOCOL {
                    return Err(PickleError::UnsupportedProtocol(v));
                }
                self.proto = v;
            }
            // A framing hint: the C unpickler only checks that the frame's
            // bytes are there.
            op::FRAME => {
                let n = self.r.u64_le()?;
                if usize::try_from(n).map_or(true, |n| n > self.r.remaining()) {
                    return Err(self.beyond(n));
                }
            }
            op::NONE => self.leaf(Value::None)?,
            op::NEWTRUE => self.leaf(Value::Bool(true))?,
            op::NEWFALSE => self.leaf(Value::Bool(false))?,
            op::BININT1 => {
                let v = self.r.u8()?;
                self.leaf(Value::Int(v.into()))?
            }
            op::BININT2 => {
                let v = self.r.u16_le()?;
                self.leaf(Value::Int(v.into()))?
            }
            op::BININT => {
                let v = self.r.i32_le()?;
                self.leaf(Value::Int(v.into()))?
            }
            op::LONG1 => {
                let n = self.r.u8()?;
                self.long(n.into())?
            }
            op::LONG4 => {
                let n = self.r.i32_le()?;
                let n = u64::try_from(n)
                    .map_err(|_| self.operand("LONG pickle has negative byte count"))?;
                self.long(n)?
            }
            op::INT => {
                let line = self.r.line()?;
                let v = text::int_line(line).map_err(|e| self.bad_text(e))?;
                self.leaf(v)?
            }
            op::LONG => {
                let line = self.r.line()?;
                let v = text::long_line(line).map_err(|e| self.bad_text(e))?;
                self.leaf(v)?
            }
            op::BINFLOAT => {
                let v = f64::from_be_bytes(self.r.array()?);
                self.leaf(Value::Float(v))?
            }
            op::FLOAT => {
                let line = self.r.line()?;
                let v = text::float_line(line).map_err(|e| self.bad_text(e))?;
                self.leaf(Value::Float(v))?
            }
            op::SHORT_BINUNICODE => {
                let n = self.r.u8()?;
                self.unicode(n.into())?
            }
            op::BINUNICODE => {
                let n = self.r.u32_le()?;
                self.unicode(n.into())?
            }
            op::BINUNICODE8 => {
                let n = self.r.u64_le()?;
                self.unicode(n)?
            }
            op::UNICODE => {
                let line = self.r.line()?;
                let v = text::raw_unicode_escape(line).map_err(|e| self.bad_text(e))?;
                self.leaf(v)?
            }
            op::SHORT_BINBYTES => {
                let n = self.r.u8()?;
                let b = self.payload(n.into())?;
                self.leaf(Value::Bytes(b.to_vec()))?
            }
            op::BINBYTES => {
                let n = self.r.u32_le()?;
                let b = self.payload(n.into())?;
                self.leaf(Value::Bytes(b.to_vec()))?
            }
            op::BINBYTES8 => {
                let n = self.r.u64_le()?;
                let b = self.payload(n)?;
                self.leaf(Value::Bytes(b.to_vec()))?
            }
            op::BYTEARRAY8 => {
                let n = self.r.u64_le()?;
                let b = self.payload(n)?;
                self.leaf(Value::ByteArray(b.to_vec()))?
            }
            // Python 2 byte strings; Python 3 decodes them with the
            // unpickler's encoding, ASCII for `pickle.loads` defaults.
            op::SHORT_BINSTRING => {
                let n = self.r.u8()?;
                let b = self.payload(n.into())?;
                self.ascii(b.to_vec())?
            }
            op::BINSTRING => {
                let n = self.r.i32_le()?;
                let n = u64::try_from(n)
                    .map_err(|_| self.operand("BINSTRING pickle has negative byte count"))?;
                let b = self.payload(n)?;
                self.ascii(b.to_vec())?
            }
            op::STRING => {
                let line = self.r.line()?;
                let b = text::quoted_string(line).map_err(|e| self.bad_text(e))?;
                self.ascii(b)?
            }
            op::EMPTY_TUPLE => self.push_new(Node::Tuple(Vec::new()))?,
            op::TUPLE1 | op::TUPLE2 | op::TUPLE3 => {
                let n = usize::from(code - op::TUPLE1) + 1;
                let items = self.pop_n(n)?;
                self.push_new(Node::Tuple(items))?
            }
            op::TUPLE => {
                let items = self.pop_mark()?;
                self.push_new(Node::Tuple(items))?
            }
            op::EMPTY_LIST => self.push_new(Node::List(Vec::new()))?,
            op::LIST => {
                let items = self.pop_mark()?;
                self.push_new(Node::List(items))?
            }
            op::EMPTY_DICT => self.push_new(Node::Dict(Vec::new()))?,
            op::DICT => {
                let items = self.pop_mark()?;
                let pairs = self.pairs(items)?;
                self.push_new(Node::Dict(pairs))?
            }
            op::EMPTY_SET => self.push_new(Node::Set(Vec::new()))?,
            op::FROZENSET => {
                let items = self.pop_mark()?;
                self.push_new(Node::FrozenSet(items))?
            }
            op::APPEND => {
                let len = self.stack.len();
                self.append_from(len.saturating_sub(1))?
            }
            op::APPENDS => {
                let mark = self.marker()?;
                self.append_from(mark)?
            }
            op::SETITEM => {
                let len = self.stack.len();
                self.setitems_from(len.saturating_sub(2))?
            }
            op::SETITEMS => {
                let mark = self.marker()?;
                self.setitems_from(mark)?
            }
            op::ADDITEMS => {
                let mark = self.marker()?;
                self.additems_from(mark)?
            }
            op::MARK => self.marks.push(self.stack.len()),
            op::POP => {
                if self.marks.last() == Some(&self.stack.len()) {
                    self.marks.pop();
                } else {
                    self.pop()?;
                }
            }
            op::POP_MARK => {
                self.pop_mark()?;
            }
            op::DUP => {
                self.shared = true;
                let top = self.top()?;
                self.stack.push(top);
            }
            op::MEMOIZE => {
                let top = self.top()?;
                let idx = self.memo.len() as u64;
                self.memo.insert(idx, top);
            }
            op::BINPUT => {
                let idx = self.r.u8()?;
                self.put(idx.into())?
            }
            op::LONG_BINPUT => {
                let idx = self.r.u32_le()?;
                self.put(idx.into())?
            }
            op::PUT => {
                let line = self.r.line()?;
                let idx = text::memo_index(line).map_err(|e| self.bad_text(e))?;
                self.put(idx)?
            }
            op::BINGET => {
                let idx = self.r.u8()?;
                self.get(idx.into())?
            }
            op::LONG_BINGET => {
                let idx = self.r.u32_le()?;
                self.get(idx.into())?
            }
            op::GET => {
                let line = self.r.line()?;
                let idx = text::memo_index(line).map_err(|e| self.bad_text(e))?;
                self.get(idx)?
            }
            op::GLOBAL => {
                let module = self.utf8_line()?;
                let name = self.utf8_line()?;
                let g = self.global(module, name)?;
                self.stack.push(g);
            }
            op::STACK_GLOBAL => {
                let name = self.pop()?;
                let module = self.pop()?;
                let (Some(module), Some(name)) = (self.str_of(module), self.str_of(name)) else {
                    return Err(self.operand("STACK_GLOBAL requires str"));
                };
                let g = self.global(module, name)?;
                self.stack.push(g);
            }
            op::REDUCE => {
                let args = self.pop()?;
                let callable = self.pop()?;
                self.expect_tuple(args, "REDUCE arguments must be a tuple")?;
                let node = match native_reduce(&self.nodes, callable, args, &mut self.budget)? {
                    Some(native) => native,
                    None => object(Head::Reduce { callable, args }),
                };
                self.push_new(node)?
            }
            op::NEWOBJ => {
                let args = self.pop()?;
                let cls = self.pop()?;
                self.expect_tuple(args, "NEWOBJ expected an arg tuple")?;
                self.push_new(object(Head::NewObj {
                    cls,
                    args,
                    kwargs: None,
                }))?
            }
            op::NEWOBJ_EX => {
                let kwargs = self.pop()?;
                let args = self.pop()?;
                let cls = self.pop()?;
                self.expect_tuple(args, "NEWOBJ_EX args argument must be a tuple")?;
                if !matches!(self.nodes.get(kwargs), Some(Node::Dict(_))) {
                    return Err(self.operand("NEWOBJ_EX kwargs argument must be a dict"));
                }
                let head = Head::NewObj {
                    cls,
                    args,
                    kwargs: Some(kwargs),
                };
                self.push_new(object(head))?
            }
            op::INST => {
                let module = self.utf8_line()?;
                let name = self.utf8_line()?;
                let args = self.pop_mark()?;
                let cls = self.global(module, name)?;
                self.instantiate(cls, args)?
            }
            op::OBJ => {
                let mut items = self.pop_mark()?.into_iter();
                let cls = items.next().ok_or(PickleError::StackUnderflow {
                    opcode: self.opname(),
                    offset: self.at,
                })?;
                self.instantiate(cls, items.collect())?
            }
            op::BUILD => {
                let state = self.pop()?;
                let target = self.top()?;
                match self.nodes.get_mut(target) {
                    Some(Node::Object(o)) if o.state.is_none() => o.state = Some(state),
                    Some(Node::Object(_)) => {
                        return Err(self.operand("a second BUILD on one object"))
                    }
                    other => {
                        let kind = other.map_or_else(String::new, |n| n.kind());
                        return Err(self.operand(&format!("BUILD on a {kind}, which has no state")));
                    }
                }
            }
            op::PERSID => {
                self.r.line()?;
                return Err(self.unsupported("a persistent id"));
            }
            op::BINPERSID => return Err(self.unsupported("a persistent id")),
            op::EXT1 | op::EXT2 | op::EXT4 => {
                return Err(self.unsupported("an extension registry code"))
            }
            op::NEXT_BUFFER | op::READONLY_BUFFER => {
                return Err(self.unsupported("an out-of-band buffer"))
            }
            _ => {
                // `name()` knows no opcode that is not handled above.
                return Err(PickleError::UnknownOpcode {
                    byte: code,
                    offset: self.at,
                });
            }
        }
        Ok(())
    }
}

pub(super) fn object(head: Head) -> Node {
    Node::Object(Box::new(ObjNode {
        head,
        list_items: Vec::new(),
        dict_items: Vec::new(),
        state: None,
    }))
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
