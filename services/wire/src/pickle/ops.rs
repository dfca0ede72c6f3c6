//! The stack, memo, node and operand helpers of the decoder's [`Machine`].
//!
//! `decode.rs` holds the opcode `match`; the helpers it calls live here.
//! They follow `_pickle.c`: pops are fenced by the latest `MARK`
//! (`Pdata_pop`), `APPENDS`/`SETITEMS`/`ADDITEMS` find their target just
//! below the mark (`do_append`, `do_setitems`), `MEMOIZE` stores at the
//! number of memo entries (`load_memoize`).

use super::arena::{Head, Node, NodeId};
use super::compat::fix_import;
use super::decode::{object, Machine};
use super::error::PickleError;
use crate::value::SurrogateStr;
use crate::Value;
use num_bigint::BigInt;

impl<'a> Machine<'a> {
    // ---- stack ----

    /// The fence of the stack: items below it belong to an outer mark.
    pub(super) fn fence(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    pub(super) fn underflow(&self) -> PickleError {
        PickleError::StackUnderflow {
            opcode: self.opname(),
            offset: self.at,
        }
    }

    pub(super) fn pop(&mut self) -> Result<NodeId, PickleError> {
        if self.stack.len() <= self.fence() {
            return Err(self.underflow());
        }
        self.stack.pop().ok_or_else(|| self.underflow())
    }

    pub(super) fn top(&self) -> Result<NodeId, PickleError> {
        if self.stack.len() <= self.fence() {
            return Err(self.underflow());
        }
        self.stack.last().copied().ok_or_else(|| self.underflow())
    }

    pub(super) fn pop_n(&mut self, n: usize) -> Result<Vec<NodeId>, PickleError> {
        if self.stack.len() < self.fence() + n {
            return Err(self.underflow());
        }
        let at = self.stack.len() - n;
        Ok(self.stack.split_off(at))
    }

    /// Removes the latest mark, returning the stack height it recorded.
    pub(super) fn marker(&mut self) -> Result<usize, PickleError> {
        self.marks.pop().ok_or(PickleError::MarkMissing {
            opcode: self.opname(),
            offset: self.at,
        })
    }

    /// The items pushed since the latest mark, which is removed.
    pub(super) fn pop_mark(&mut self) -> Result<Vec<NodeId>, PickleError> {
        let mark = self.marker()?;
        // Pops never go below the fence, so the mark is within the stack.
        let mark = mark.min(self.stack.len());
        Ok(self.stack.split_off(mark))
    }

    /// The target of `APPENDS`/`SETITEMS`/`ADDITEMS` sits just below the
    /// items starting at `x` (`_pickle.c` `do_append`): it must be above
    /// the fence.
    pub(super) fn target_below(&self, x: usize) -> Result<NodeId, PickleError> {
        if x > self.stack.len() || x <= self.fence() {
            return Err(self.underflow());
        }
        self.stack
            .get(x - 1)
            .copied()
            .ok_or_else(|| self.underflow())
    }

    pub(super) fn append_from(&mut self, x: usize) -> Result<(), PickleError> {
        let target = self.target_below(x)?;
        let items = self.stack.split_off(x);
        match self.nodes.get_mut(target) {
            Some(Node::List(v)) => v.extend(items),
            Some(Node::Object(o)) => o.list_items.extend(items),
            other => {
                let kind = other.map_or_else(String::new, |n| n.kind());
                return Err(self.operand(&format!("cannot append to a {kind}")));
            }
        }
        Ok(())
    }

    pub(super) fn setitems_from(&mut self, x: usize) -> Result<(), PickleError> {
        let target = self.target_below(x)?;
        let items = self.stack.split_off(x);
        let pairs = self.pairs(items)?;
        match self.nodes.get_mut(target) {
            Some(Node::Dict(p)) => p.extend(pairs),
            Some(Node::Object(o)) => o.dict_items.extend(pairs),
            other => {
                let kind = other.map_or_else(String::new, |n| n.kind());
                return Err(self.operand(&format!("cannot set items on a {kind}")));
            }
        }
        Ok(())
    }

    pub(super) fn additems_from(&mut self, x: usize) -> Result<(), PickleError> {
        let target = self.target_below(x)?;
        let items = self.stack.split_off(x);
        match self.nodes.get_mut(target) {
            Some(Node::Set(v)) => v.extend(items),
            other => {
                let kind = other.map_or_else(String::new, |n| n.kind());
                return Err(self.operand(&format!("cannot add items to a {kind}")));
            }
        }
        Ok(())
    }

    pub(super) fn pairs(&self, items: Vec<NodeId>) -> Result<Vec<(NodeId, NodeId)>, PickleError> {
        if !items.len().is_multiple_of(2) {
            return Err(self.operand(&format!("odd number of items for {}", self.opname())));
        }
        let mut it = items.into_iter();
        let mut pairs = Vec::with_capacity(it.len() / 2);
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            pairs.push((k, v));
        }
        Ok(pairs)
    }

    // ---- nodes ----

    /// Adds a node to the arena without pushing it.
    pub(super) fn alloc(&mut self, node: Node) -> Result<NodeId, PickleError> {
        self.budget.spend(1)?;
        self.nodes.push(node);
        Ok(self.nodes.len() - 1)
    }

    pub(super) fn push_new(&mut self, node: Node) -> Result<(), PickleError> {
        let id = self.alloc(node)?;
        self.stack.push(id);
        Ok(())
    }

    pub(super) fn leaf(&mut self, v: Value) -> Result<(), PickleError> {
        self.push_new(Node::Leaf(v))
    }

    pub(super) fn str_of(&self, id: NodeId) -> Option<String> {
        match self.nodes.get(id) {
            Some(Node::Leaf(Value::Str(s))) => Some(s.clone()),
            _ => None,
        }
    }

    pub(super) fn expect_tuple(&self, id: NodeId, reason: &str) -> Result<(), PickleError> {
        match self.nodes.get(id) {
            Some(Node::Tuple(_)) => Ok(()),
            _ => Err(self.operand(reason)),
        }
    }

    /// A global node; Python 2 names are mapped when the pickle's protocol
    /// is below 3, as `Unpickler.find_class` does with `fix_imports`.
    pub(super) fn global(&mut self, module: String, name: String) -> Result<NodeId, PickleError> {
        let (module, name) = if self.proto < 3 {
            fix_import(module, name)
        } else {
            (module, name)
        };
        self.alloc(Node::Leaf(Value::global(&module, &name)))
    }

    /// `INST`/`OBJ`: CPython's `_instantiate` calls `cls(*args)`, or
    /// `cls.__new__(cls)` when there are no arguments; recorded as a
    /// `REDUCE` or a `NEWOBJ`, which rebuild the same object.
    pub(super) fn instantiate(
        &mut self,
        cls: NodeId,
        args: Vec<NodeId>,
    ) -> Result<(), PickleError> {
        let head = if args.is_empty() {
            let args = self.alloc(Node::Tuple(Vec::new()))?;
            Head::NewObj {
                cls,
                args,
                kwargs: None,
            }
        } else {
            let args = self.alloc(Node::Tuple(args))?;
            Head::Reduce {
                callable: cls,
                args,
            }
        };
        self.push_new(object(head))
    }

    pub(super) fn put(&mut self, idx: u64) -> Result<(), PickleError> {
        let top = self.top()?;
        self.memo.insert(idx, top);
        Ok(())
    }

    pub(super) fn get(&mut self, idx: u64) -> Result<(), PickleError> {
        self.shared = true;
        let id = self.memo.get(idx).ok_or(PickleError::BadMemo {
            index: idx,
            offset: self.at,
        })?;
        self.stack.push(id);
        Ok(())
    }

    // ---- operands ----

    pub(super) fn payload(&mut self, declared: u64) -> Result<&'a [u8], PickleError> {
        self.r
            .payload(declared, self.max_len, self.opname(), self.at)
    }

    pub(super) fn long(&mut self, n: u64) -> Result<(), PickleError> {
        let b = self.payload(n)?;
        // Two's complement, little-endian; no bytes is zero (`decode_long`).
        let v = Value::from_bigint(BigInt::from_signed_bytes_le(b));
        self.leaf(v)
    }

    pub(super) fn unicode(&mut self, n: u64) -> Result<(), PickleError> {
        let b = self.payload(n)?;
        let v = self.str_value(b)?;
        self.leaf(v)
    }

    /// A pickled `str`: UTF-8 with `surrogatepass`, as CPython writes it,
    /// so a lone surrogate (a file name decoded with `surrogateescape`)
    /// is a [`SurrogateStr`].
    fn str_value(&self, b: &[u8]) -> Result<Value, PickleError> {
        match std::str::from_utf8(b) {
            Ok(s) => Ok(Value::Str(s.to_owned())),
            Err(_) => SurrogateStr::from_surrogatepass(b)
                .map(Value::SurrogateStr)
                .ok_or(PickleError::InvalidUtf8 {
                    opcode: self.opname(),
                    offset: self.at,
                }),
        }
    }

    /// UTF-8 of a name (`GLOBAL`'s module and attribute): encoded
    /// surrogates, which no importable name holds, are refused by name.
    pub(super) fn utf8(&self, b: &[u8]) -> Result<String, PickleError> {
        match std::str::from_utf8(b) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) if b.windows(2).any(|w| matches!(w, [0xed, 0xa0..=0xbf])) => {
                Err(self.surrogate())
            }
            Err(_) => Err(PickleError::InvalidUtf8 {
                opcode: self.opname(),
                offset: self.at,
            }),
        }
    }

    pub(super) fn utf8_line(&mut self) -> Result<String, PickleError> {
        let line = self.r.line()?;
        self.utf8(line)
    }

    pub(super) fn ascii(&mut self, b: Vec<u8>) -> Result<(), PickleError> {
        if !b.is_ascii() {
            return Err(self.bad_text(
                "byte string with non-ASCII bytes (pickle.loads decodes it as ASCII)".into(),
            ));
        }
        // ASCII is UTF-8.
        let s = String::from_utf8(b).map_err(|_| PickleError::InvalidUtf8 {
            opcode: self.opname(),
            offset: self.at,
        })?;
        self.leaf(Value::Str(s))
    }

    // ---- errors ----

    pub(super) fn beyond(&self, declared: u64) -> PickleError {
        PickleError::LengthBeyondData {
            opcode: self.opname(),
            offset: self.at,
            declared,
            available: self.r.remaining(),
        }
    }

    pub(super) fn operand(&self, reason: &str) -> PickleError {
        PickleError::BadOperand {
            opcode: self.opname(),
            offset: self.at,
            reason: reason.to_string(),
        }
    }

    pub(super) fn bad_text(&self, reason: String) -> PickleError {
        PickleError::BadText {
            opcode: self.opname(),
            offset: self.at,
            reason,
        }
    }

    pub(super) fn surrogate(&self) -> PickleError {
        PickleError::LoneSurrogate {
            opcode: self.opname(),
            offset: self.at,
        }
    }

    pub(super) fn unsupported(&self, what: &'static str) -> PickleError {
        PickleError::Unsupported {
            what,
            offset: self.at,
        }
    }
}
