//! A bounds-checked cursor over the bytes of one pickle.
//!
//! The decoder (`decode.rs`) reads every operand through this type, so no
//! read can run past the data: a short read is [`PickleError::Truncated`],
//! and a length field is compared with what remains (and with
//! `Limits::max_len`) before the caller allocates anything, as rustls' codec
//! does.

use super::error::PickleError;

pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.data.len())
            .ok_or(PickleError::Truncated {
                offset: self.data.len(),
            })?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], PickleError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    pub(crate) fn u16_le(&mut self) -> Result<u16, PickleError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(crate) fn u32_le(&mut self) -> Result<u32, PickleError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn i32_le(&mut self) -> Result<i32, PickleError> {
        Ok(i32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64_le(&mut self) -> Result<u64, PickleError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A payload whose length was declared by the opcode at `offset`:
    /// refused when it is longer than the data left or than `max_len`,
    /// before any byte is copied.
    pub(crate) fn payload(
        &mut self,
        declared: u64,
        max_len: usize,
        opcode: &'static str,
        offset: usize,
    ) -> Result<&'a [u8], PickleError> {
        let available = self.remaining();
        let n = usize::try_from(declared)
            .ok()
            .filter(|n| *n <= available)
            .ok_or(PickleError::LengthBeyondData {
                opcode,
                offset,
                declared,
                available,
            })?;
        if n > max_len {
            return Err(PickleError::TooLong {
                opcode,
                offset,
                declared,
                limit: max_len,
            });
        }
        self.take(n)
    }

    /// The bytes up to the next `\n`, which is consumed and not returned
    /// (the argument of the text opcodes of protocol 0).
    pub(crate) fn line(&mut self) -> Result<&'a [u8], PickleError> {
        let rest = &self.data[self.pos..];
        let n = rest
            .iter()
            .position(|b| *b == b'\n')
            .ok_or(PickleError::Truncated {
                offset: self.data.len(),
            })?;
        self.pos += n + 1;
        Ok(&rest[..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_at_the_end() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16_le().unwrap(), 0x0201);
        assert_eq!(r.u16_le(), Err(PickleError::Truncated { offset: 3 }));
        assert_eq!(r.u8().unwrap(), 3);
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn payload_length_is_checked_first() {
        let mut r = Reader::new(b"abc");
        assert!(matches!(
            r.payload(u64::MAX, usize::MAX, "BINBYTES8", 0),
            Err(PickleError::LengthBeyondData {
                declared: u64::MAX,
                available: 3,
                ..
            })
        ));
        assert!(matches!(
            r.payload(3, 2, "BINBYTES", 0),
            Err(PickleError::TooLong {
                declared: 3,
                limit: 2,
                ..
            })
        ));
        assert_eq!(r.payload(2, 2, "BINBYTES", 0).unwrap(), b"ab");
    }

    #[test]
    fn lines_need_a_newline() {
        let mut r = Reader::new(b"12\nab");
        assert_eq!(r.line().unwrap(), b"12");
        assert_eq!(r.line(), Err(PickleError::Truncated { offset: 5 }));
    }
}
