//! Fuzz body for the frame decoder, included by path from the
//! `frame_reader` cargo-fuzz target and from the stable harness
//! `services/wire/tests/fuzz_stable.rs`, so it may use only `mpcluster_wire`,
//! `bytes` and `tokio_util`.
//!
//! The first input byte picks a small maximum frame size, the second the
//! size of the chunks the rest is fed in, as a socket would deliver it. The
//! oracle: chunked decoding yields exactly what decoding the whole input at
//! once yields (frames and final outcome), no frame exceeds the maximum, the
//! buffer never grows past a bound proportional to what arrived, and every
//! decoded frame re-encodes to bytes that decode back to itself.

use bytes::BytesMut;
use mpcluster_wire::frame::{FrameCodec, FrameError, LONG_HEADER_LEN};
use tokio_util::codec::{Decoder, Encoder};

/// What a whole decode produced: the frames, then how the stream ended.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    pub frames: Vec<Vec<u8>>,
    /// `"eof"` for a clean end, else the kind of `FrameError`.
    pub end: &'static str,
}

fn end_of(err: &FrameError) -> &'static str {
    match err {
        FrameError::TooLarge { .. } => "too large",
        FrameError::NegativeLength(_) => "negative",
        FrameError::Truncated { .. } => "truncated",
        FrameError::Io(_) => "io",
    }
}

/// Decodes `data` fed in `chunk`-byte pieces, checking the invariants.
pub fn decode_chunked(data: &[u8], max: usize, chunk: usize) -> Outcome {
    let mut codec = FrameCodec::new(max);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut fed = 0usize;
    for piece in data.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        fed += piece.len();
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => {
                    assert!(
                        frame.len() <= max,
                        "frame of {} over max {max}",
                        frame.len()
                    );
                    frames.push(frame.to_vec());
                }
                Ok(None) => break,
                Err(err) => {
                    return Outcome {
                        frames,
                        end: end_of(&err),
                    }
                }
            }
            // Check before allocating: space grows with what arrived, never
            // with what a header merely announced.
            let bound = 2 * (fed + max + LONG_HEADER_LEN) + 64;
            assert!(
                buf.capacity() <= bound,
                "capacity {} > {bound}",
                buf.capacity()
            );
        }
    }
    loop {
        match codec.decode_eof(&mut buf) {
            Ok(Some(frame)) => frames.push(frame.to_vec()),
            Ok(None) => return Outcome { frames, end: "eof" },
            Err(err) => {
                return Outcome {
                    frames,
                    end: end_of(&err),
                }
            }
        }
    }
}

/// Runs one fuzz input; panics on any violated invariant.
pub fn run(data: &[u8]) {
    let (max, chunk, stream) = match data {
        [a, b, rest @ ..] => (usize::from(*a) * 4, usize::from(*b) % 32 + 1, rest),
        _ => return,
    };
    let whole = decode_chunked(stream, max, stream.len().max(1));
    let chunked = decode_chunked(stream, max, chunk);
    assert_eq!(whole, chunked, "chunking changed the outcome");

    let mut codec = FrameCodec::new(max);
    let mut encoded = BytesMut::new();
    for frame in &whole.frames {
        codec
            .encode(&frame[..], &mut encoded)
            .expect("encoding into memory");
    }
    let again = decode_chunked(&encoded, max, chunk);
    assert_eq!(again.frames, whole.frames, "re-encoded frames differ");
    assert_eq!(again.end, "eof");
}
