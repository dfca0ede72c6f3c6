//! Why an authkey handshake failed.
//!
//! One variant per way `multiprocessing.connection.deliver_challenge` /
//! `answer_challenge` can raise `AuthenticationError` (or `OSError` for an
//! oversized message), plus our MD5 policy refusal. `super::Handshake`
//! returns these; `crate::io` wraps them with transport failures.

use thiserror::Error;

use super::Digest;

/// Why the handshake failed. Display strings are CPython's
/// `AuthenticationError` messages where CPython has one, without the peer's
/// bytes CPython sometimes appends (they must not reach the logs).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    /// Our verifier computed a different MAC (wrong authkey, or a MAC over
    /// the nonce without its `{sha256}` prefix). `#FAILURE#` is queued.
    #[error("digest received was wrong")]
    DigestReceivedWrong,
    /// The answer names a digest but its MAC has the wrong length, e.g. a
    /// 20-byte raw answer (read as MD5). `#FAILURE#` is queued.
    #[error("expected '{digest}' of length {expected} got {got}")]
    WrongDigestLength {
        digest: Digest,
        expected: usize,
        got: usize,
    },
    /// A challenge body or answer that is neither legacy-sized nor prefixed
    /// with an allowed `{name}` (for an answer, `#FAILURE#` is queued).
    #[error("unsupported message length, missing digest prefix, or unsupported digest")]
    UnsupportedDigest,
    /// The peer asked for, or answered with, HMAC-MD5 while the policy
    /// refuses it (for an answer, `#FAILURE#` is queued).
    #[error("HMAC-MD5 is refused by policy (CPython <= 3.11 peer?)")]
    Md5Refused,
    /// Our answer was not welcomed (wrong authkey on one side).
    #[error("digest sent was rejected")]
    DigestSentRejected,
    /// The peer's first message was not a challenge.
    #[error("Protocol error, expected challenge")]
    ExpectedChallenge,
    /// The challenge body is shorter than the 20 bytes of a legacy nonce.
    #[error("challenge too short: {0} bytes")]
    ChallengeTooShort(usize),
    /// A handshake payload over [`MAX_HANDSHAKE_FRAME`] bytes (CPython:
    /// `OSError("bad message length")`).
    #[error("bad message length: {0} bytes in a handshake message (max 256)")]
    BadMessageLength(usize),
    /// A payload arrived when the handshake expected none (it already
    /// finished or failed).
    #[error("unexpected handshake message after the handshake {0}")]
    Unexpected(&'static str),
}
