//! Length-prefixed framing of `multiprocessing.connection`, with no I/O.
//!
//! Every byte of a manager connection after the TCP connect is a frame: a
//! 4-byte big-endian *signed* length and that many payload bytes, or the
//! escape `-1` followed by an 8-byte big-endian unsigned length for payloads
//! over `0x7FFF_FFFF` bytes (CPython `Connection._send_bytes` /
//! `_recv_bytes`, spec section 2.2). The handshake frames and every pickle
//! after them travel in this envelope.
//!
//! [`FrameCodec`] is the `tokio_util::codec` adapter the connection loops use;
//! [`parse_header`], [`encode_header`] and [`eof_kind`] are the pure pieces it
//! is built from, shared with the hand-written reader in `crate::io`. The
//! declared length is always compared with the configured maximum before a
//! single byte of payload space is reserved, and even an accepted length only
//! grows the buffer in bounded steps as bytes actually arrive, so a peer that
//! announces a large frame and then stalls costs us almost nothing.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use thiserror::Error;
use tokio_util::codec::{Decoder, Encoder};

/// Largest payload the 4-byte short form can carry; longer payloads use the
/// `-1` escape (CPython writes the long form only above this, 3.8+).
pub const SHORT_FORM_MAX: usize = 0x7FFF_FFFF;

/// Size of the short header (signed int32 length).
pub const SHORT_HEADER_LEN: usize = 4;

/// Size of the long header (`ff ff ff ff` + uint64 length).
pub const LONG_HEADER_LEN: usize = 12;

/// How much payload space the decoder reserves ahead of the bytes that have
/// arrived. Growing in steps of this size keeps a stalled sender that
/// announced a large (but allowed) frame from pinning that much memory.
pub const RESERVE_STEP: usize = 64 * 1024;

/// Why a byte stream is not a valid sequence of frames.
#[derive(Debug, Error)]
pub enum FrameError {
    /// The announced payload length exceeds the configured maximum. CPython's
    /// `recv_bytes(maxlength)` raises `OSError("bad message length")` here;
    /// the connection is unusable afterwards because the payload was not
    /// consumed.
    #[error("bad message length: frame declares {declared} bytes, the limit is {max}")]
    TooLarge { declared: u64, max: usize },
    /// A negative length other than the `-1` escape. CPython silently yields
    /// an empty payload without consuming anything (a bug); we refuse it.
    #[error("bad message length: negative frame length {0}")]
    NegativeLength(i32),
    /// The stream ended part-way through a header or a payload; CPython
    /// raises `OSError("got end of file during message")`.
    #[error("got end of file during message ({buffered} bytes of an incomplete frame)")]
    Truncated { buffered: usize },
    /// The underlying transport failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// A decoded frame header: how many bytes it occupies and the payload length
/// it announces (not yet checked against any limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// 4 for the short form, 12 for the long form.
    pub header_len: usize,
    /// The announced payload length.
    pub payload_len: u64,
}

/// Parses the header at the start of `buf`.
///
/// Returns `Ok(None)` while the header is incomplete. The long form is
/// accepted for any length, even small ones, as CPython's reader does.
pub fn parse_header(buf: &[u8]) -> Result<Option<Header>, FrameError> {
    let Some(short) = buf.get(..SHORT_HEADER_LEN) else {
        return Ok(None);
    };
    let mut short_bytes = [0u8; SHORT_HEADER_LEN];
    short_bytes.copy_from_slice(short);
    match i32::from_be_bytes(short_bytes) {
        -1 => {
            let Some(long) = buf.get(SHORT_HEADER_LEN..LONG_HEADER_LEN) else {
                return Ok(None);
            };
            let mut long_bytes = [0u8; 8];
            long_bytes.copy_from_slice(long);
            Ok(Some(Header {
                header_len: LONG_HEADER_LEN,
                payload_len: u64::from_be_bytes(long_bytes),
            }))
        }
        n if n < 0 => Err(FrameError::NegativeLength(n)),
        n => Ok(Some(Header {
            header_len: SHORT_HEADER_LEN,
            // `n` is non-negative here, so the conversion is lossless.
            payload_len: u64::from(n.unsigned_abs()),
        })),
    }
}

/// Checks an announced length against `max` and converts it to `usize`.
pub fn check_len(payload_len: u64, max: usize) -> Result<usize, FrameError> {
    match usize::try_from(payload_len) {
        Ok(n) if n <= max => Ok(n),
        _ => Err(FrameError::TooLarge {
            declared: payload_len,
            max,
        }),
    }
}

/// The header bytes for a payload of a given length, in CPython's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodedHeader {
    bytes: [u8; LONG_HEADER_LEN],
    len: usize,
}

impl EncodedHeader {
    /// The 4 or 12 header bytes.
    pub fn as_bytes(&self) -> &[u8] {
        // `len` is 4 or 12 by construction in `encode_header`.
        &self.bytes[..self.len]
    }
}

impl AsRef<[u8]> for EncodedHeader {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// Encodes the header for a payload of `len` bytes: the short form up to
/// [`SHORT_FORM_MAX`], the `-1` escape and a uint64 above (CPython
/// `_send_bytes`; ≤3.7 readers only know the short form, so it is kept
/// whenever it fits).
pub fn encode_header(len: usize) -> EncodedHeader {
    let mut bytes = [0u8; LONG_HEADER_LEN];
    match i32::try_from(len) {
        Ok(short) => {
            bytes[..SHORT_HEADER_LEN].copy_from_slice(&short.to_be_bytes());
            EncodedHeader {
                bytes,
                len: SHORT_HEADER_LEN,
            }
        }
        Err(_) => {
            bytes[..SHORT_HEADER_LEN].copy_from_slice(&(-1i32).to_be_bytes());
            // usize is at most 64 bits on every supported target.
            bytes[SHORT_HEADER_LEN..].copy_from_slice(&(len as u64).to_be_bytes());
            EncodedHeader {
                bytes,
                len: LONG_HEADER_LEN,
            }
        }
    }
}

/// Appends one whole frame to `out`, the payload written in place by
/// `write_payload`: the short header is reserved first and patched once the
/// length is known, so a reply is built without a second buffer or copy.
/// The rare payload over [`SHORT_FORM_MAX`] gets the long header spliced in.
pub fn append_frame(out: &mut Vec<u8>, write_payload: impl FnOnce(&mut Vec<u8>)) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; SHORT_HEADER_LEN]);
    write_payload(out);
    let len = out.len() - start - SHORT_HEADER_LEN;
    let header = encode_header(len);
    let bytes = header.as_bytes();
    if bytes.len() == SHORT_HEADER_LEN {
        out[start..start + SHORT_HEADER_LEN].copy_from_slice(bytes);
    } else {
        out.splice(start..start + SHORT_HEADER_LEN, bytes.iter().copied());
    }
    len
}

/// Where the stream stood when the peer closed it, following CPython's
/// split between `EOFError` and `OSError` (spec 2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EofKind {
    /// Nothing of a next frame had arrived: an orderly close.
    Clean,
    /// A complete header (short form, the bare `-1` escape, or a long
    /// header) and not one byte after it. CPython's exact reads raise
    /// `EOFError` here, which a serving thread treats as a clean close; we
    /// do the same (the decoder yields `None`), but report it separately so
    /// a caller may log the truncated frame.
    AfterHeader,
    /// The stream stopped inside a header or a payload: CPython's
    /// `OSError("got end of file during message")`.
    MidFrame,
}

/// Classifies the bytes left over when the stream ended (`buf` holds what
/// arrived of the next frame and nothing of the frames already decoded).
pub fn eof_kind(buf: &[u8]) -> EofKind {
    match buf.len() {
        0 => EofKind::Clean,
        SHORT_HEADER_LEN => EofKind::AfterHeader,
        LONG_HEADER_LEN if buf.starts_with(&[0xff; SHORT_HEADER_LEN]) => EofKind::AfterHeader,
        _ => EofKind::MidFrame,
    }
}

/// `tokio_util` codec for CPython frames with a maximum payload size.
#[derive(Debug, Clone, Copy)]
pub struct FrameCodec {
    max_frame: usize,
}

impl FrameCodec {
    /// A codec that refuses payloads longer than `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        FrameCodec { max_frame }
    }

    /// The configured maximum payload size.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Changes the limit, e.g. from the 256-byte handshake cap to the
    /// connection's normal maximum once authentication succeeded.
    pub fn set_max_frame(&mut self, max_frame: usize) {
        self.max_frame = max_frame;
    }
}

impl Decoder for FrameCodec {
    type Item = BytesMut;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        let Some(header) = parse_header(src)? else {
            src.reserve(LONG_HEADER_LEN);
            return Ok(None);
        };
        // The limit is checked before any payload space is reserved.
        let payload_len = check_len(header.payload_len, self.max_frame)?;
        let have = src.len() - header.header_len;
        if have < payload_len {
            src.reserve((payload_len - have).min(RESERVE_STEP));
            return Ok(None);
        }
        src.advance(header.header_len);
        Ok(Some(src.split_to(payload_len)))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        if let Some(frame) = self.decode(src)? {
            return Ok(Some(frame));
        }
        match eof_kind(src) {
            EofKind::Clean | EofKind::AfterHeader => {
                src.clear();
                Ok(None)
            }
            EofKind::MidFrame => Err(FrameError::Truncated {
                buffered: src.len(),
            }),
        }
    }
}

impl Encoder<&[u8]> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, payload: &[u8], dst: &mut BytesMut) -> Result<(), FrameError> {
        let header = encode_header(payload.len());
        dst.reserve(header.as_bytes().len() + payload.len());
        dst.put_slice(header.as_bytes());
        dst.put_slice(payload);
        Ok(())
    }
}

impl Encoder<Bytes> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, payload: Bytes, dst: &mut BytesMut) -> Result<(), FrameError> {
        Encoder::<&[u8]>::encode(self, &payload, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(codec: &mut FrameCodec, bytes: &[u8]) -> Result<Vec<Vec<u8>>, FrameError> {
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(frame) = codec.decode_eof(&mut buf)? {
            out.push(frame.to_vec());
        }
        Ok(out)
    }

    #[test]
    fn short_header_matches_cpython_struct_pack() {
        // struct.pack("!i", n) for a few lengths.
        assert_eq!(encode_header(0).as_bytes(), [0, 0, 0, 0]);
        assert_eq!(encode_header(9).as_bytes(), [0, 0, 0, 9]);
        assert_eq!(encode_header(0x3b).as_bytes(), [0, 0, 0, 0x3b]);
        assert_eq!(
            encode_header(SHORT_FORM_MAX).as_bytes(),
            [0x7f, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn long_header_above_short_form_max() {
        // struct.pack("!i", -1) + struct.pack("!Q", 0x80000000)
        assert_eq!(
            encode_header(SHORT_FORM_MAX + 1).as_bytes(),
            [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x80, 0, 0, 0]
        );
    }

    #[test]
    fn encodes_welcome_frame_byte_exact() {
        let mut codec = FrameCodec::new(256);
        let mut dst = BytesMut::new();
        codec.encode(&b"#WELCOME#"[..], &mut dst).unwrap();
        assert_eq!(&dst[..], b"\x00\x00\x00\x09#WELCOME#");
        codec.encode(Bytes::from_static(b""), &mut dst).unwrap();
        assert_eq!(&dst[13..], [0, 0, 0, 0]);
    }

    #[test]
    fn decodes_consecutive_frames_including_empty_one() {
        let mut codec = FrameCodec::new(64);
        let frames = decode_all(
            &mut codec,
            b"\x00\x00\x00\x02hi\x00\x00\x00\x00\x00\x00\x00\x01!",
        )
        .unwrap();
        assert_eq!(frames, vec![b"hi".to_vec(), vec![], b"!".to_vec()]);
    }

    #[test]
    fn accepts_long_form_for_small_lengths() {
        let mut codec = FrameCodec::new(64);
        let frames = decode_all(
            &mut codec,
            b"\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x03abc",
        )
        .unwrap();
        assert_eq!(frames, vec![b"abc".to_vec()]);
    }

    #[test]
    fn waits_for_incomplete_header_and_payload() {
        let mut codec = FrameCodec::new(64);
        let mut buf = BytesMut::from(&b"\x00\x00"[..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(b"\x00\x03ab");
        assert!(codec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(b"c");
        assert_eq!(&codec.decode(&mut buf).unwrap().unwrap()[..], b"abc");
        assert!(buf.is_empty());
        // Long form: the bare escape is not yet a header.
        let mut buf = BytesMut::from(&b"\xff\xff\xff\xff\x00\x00"[..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
    }

    #[test]
    fn refuses_other_negative_lengths() {
        let mut codec = FrameCodec::new(64);
        let err = decode_all(&mut codec, b"\xff\xff\xff\xfe").unwrap_err();
        assert!(matches!(err, FrameError::NegativeLength(-2)), "{err:?}");
        let err = decode_all(&mut codec, b"\x80\x00\x00\x00").unwrap_err();
        assert!(
            matches!(err, FrameError::NegativeLength(i32::MIN)),
            "{err:?}"
        );
    }

    #[test]
    fn oversized_declaration_is_refused_before_reserving() {
        let mut codec = FrameCodec::new(256);
        // 1 GiB announced, nothing sent after the header.
        let mut buf = BytesMut::from(&b"\x40\x00\x00\x00"[..]);
        let before = buf.capacity();
        let err = codec.decode(&mut buf).unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::TooLarge {
                    declared: 0x4000_0000,
                    max: 256
                }
            ),
            "{err:?}"
        );
        assert_eq!(buf.capacity(), before);
        // 257 is one past the limit; 256 is accepted.
        let err = decode_all(&mut codec, b"\x00\x00\x01\x01").unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { declared: 257, .. }));
        let mut ok = vec![0, 0, 1, 0];
        ok.extend(std::iter::repeat_n(7u8, 256));
        assert_eq!(decode_all(&mut codec, &ok).unwrap()[0].len(), 256);
        // A long-form length beyond u32 and beyond usize on 32-bit targets.
        let err = decode_all(
            &mut codec,
            b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
        )
        .unwrap_err();
        assert!(matches!(
            err,
            FrameError::TooLarge {
                declared: u64::MAX,
                ..
            }
        ));
    }

    #[test]
    fn allowed_large_frame_grows_buffer_in_bounded_steps() {
        let mut codec = FrameCodec::new(1 << 30);
        let mut buf = BytesMut::from(&b"\x40\x00\x00\x00"[..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert!(buf.capacity() <= 2 * (RESERVE_STEP + SHORT_HEADER_LEN));
    }

    #[test]
    fn eof_classification_follows_cpython() {
        assert_eq!(eof_kind(b""), EofKind::Clean);
        assert_eq!(eof_kind(b"\x00\x00"), EofKind::MidFrame);
        assert_eq!(eof_kind(b"\x00\x00\x00\x05"), EofKind::AfterHeader);
        assert_eq!(eof_kind(b"\xff\xff\xff\xff"), EofKind::AfterHeader);
        assert_eq!(eof_kind(b"\xff\xff\xff\xff\x00"), EofKind::MidFrame);
        assert_eq!(
            eof_kind(b"\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x05"),
            EofKind::AfterHeader
        );
        assert_eq!(eof_kind(b"\x00\x00\x00\x05ab"), EofKind::MidFrame);
    }

    #[test]
    fn decode_eof_distinguishes_clean_and_truncated_ends() {
        let mut codec = FrameCodec::new(64);
        assert!(decode_all(&mut codec, b"\x00\x00\x00\x01x").is_ok());
        assert!(decode_all(&mut codec, b"\x00\x00\x00\x05")
            .unwrap()
            .is_empty());
        let err = decode_all(&mut codec, b"\x00\x00\x00\x05ab").unwrap_err();
        assert!(
            matches!(err, FrameError::Truncated { buffered: 6 }),
            "{err:?}"
        );
        let err = decode_all(&mut codec, b"\x00\x00\x00").unwrap_err();
        assert!(matches!(err, FrameError::Truncated { buffered: 3 }));
    }

    #[test]
    fn roundtrip_across_short_and_long_forms() {
        let mut codec = FrameCodec::new(1 << 20);
        let mut dst = BytesMut::new();
        for len in [0usize, 1, 255, 16384, 16385, 70_000] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            codec.encode(&payload[..], &mut dst).unwrap();
            let got = codec.decode(&mut dst).unwrap().unwrap();
            assert_eq!(&got[..], &payload[..]);
            assert!(dst.is_empty());
        }
    }
}
