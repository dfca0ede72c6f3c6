//! The authkey handshake of `multiprocessing.connection`, as a state machine
//! with no socket and no clock.
//!
//! Every manager connection starts with a mutual challenge-response before
//! any pickle (spec section 4): the accepting side runs `deliver_challenge`
//! then `answer_challenge`, the connecting side the reverse. [`Handshake`]
//! plays either side. It is fed the payload of each frame the peer sends
//! ([`Handshake::handle`]) and hands back the payloads to frame and send
//! ([`Handshake::poll_transmit`]); `crate::io` drives it over a tokio stream
//! and the tests drive two of them against each other or against the
//! fixed-nonce frames CPython produced.
//!
//! As verifier we always send the 3.12+ challenge, `#CHALLENGE#{sha256}` +
//! 40 random bytes, and accept every answer a 3.12 verifier accepts: a raw
//! 16-byte HMAC-MD5 (≤3.11 peers) or any `{name}`-prefixed allowed digest,
//! the MAC always covering the whole challenge body including its prefix.
//! As prover we answer a 20-byte (≤3.11) challenge with raw HMAC-MD5 and a
//! prefixed one with the same digest, prefixed. [`AuthPolicy::refuse_md5`]
//! turns MD5 off in both roles, which locks out ≤3.11 peers by choice.
//!
//! Files: `machine.rs` holds the state machine, `digest.rs` the HMACs and the
//! `{name}` prefix rule, `error.rs` the failure reasons.

mod digest;
mod error;
mod machine;

use std::fmt;

pub use digest::{Digest, Scheme};
pub use error::AuthError;
pub use machine::Handshake;

/// First bytes of every challenge payload.
pub const CHALLENGE: &[u8] = b"#CHALLENGE#";
/// The verifier's verdict when the MAC matched.
pub const WELCOME: &[u8] = b"#WELCOME#";
/// The verifier's verdict when it did not.
pub const FAILURE: &[u8] = b"#FAILURE#";

/// Random bytes in our challenge (CPython 3.12+ `MESSAGE_LENGTH`). Anything
/// from 13 bytes up keeps the body clear of the legacy lengths 16 and 20.
pub const NONCE_LEN: usize = 40;

/// Every handshake read is capped at this many bytes (CPython
/// `recv_bytes(256)`), so an unauthenticated peer cannot make us allocate
/// more.
pub const MAX_HANDSHAKE_FRAME: usize = 256;

/// A legacy (≤3.11) challenge body is exactly this long; shorter bodies are
/// refused (CPython `_MD5ONLY_MESSAGE_LENGTH`).
pub(crate) const MD5ONLY_MESSAGE_LEN: usize = 20;

/// The digest we announce in our own challenges; CPython's `Listener` and
/// manager server never pass anything else to `deliver_challenge`.
pub(crate) const ANNOUNCED: Digest = Digest::Sha256;

/// Configuration of what the handshake accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthPolicy {
    /// Refuse HMAC-MD5 in both roles: raw 16-byte and `{md5}` answers get
    /// `#FAILURE#`, and 20-byte or `{md5}` challenges are not answered. This
    /// breaks CPython ≤3.11 peers, which know nothing else.
    pub refuse_md5: bool,
}

/// Which side of the connection we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The accepting side: deliver our challenge first, then answer.
    Server,
    /// The connecting side: answer the server's challenge first, then
    /// deliver ours.
    Client,
}

/// How the peer authenticated, for the connection's log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeInfo {
    /// The form of the peer's answer to our challenge.
    pub peer_answer: Scheme,
    /// The form of the challenge the peer sent us.
    pub peer_challenge: Scheme,
}

impl HandshakeInfo {
    /// Whether the peer spoke only the ≤3.11 raw-MD5 protocol.
    pub fn is_legacy(&self) -> bool {
        !self.peer_answer.prefixed && !self.peer_challenge.prefixed
    }
}

impl fmt::Display for HandshakeInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.peer_answer.prefixed, self.peer_challenge.prefixed) {
            (false, false) => f.write_str("legacy"),
            (true, true) if self.peer_answer.digest == self.peer_challenge.digest => {
                write!(f, "modern {}", self.peer_answer.digest)
            }
            _ => write!(
                f,
                "mixed answer={} challenge={}",
                self.peer_answer, self.peer_challenge
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_display_names_the_generation() {
        let modern = Scheme {
            digest: Digest::Sha256,
            prefixed: true,
        };
        let legacy = HandshakeInfo {
            peer_answer: Scheme::LEGACY,
            peer_challenge: Scheme::LEGACY,
        };
        assert!(legacy.is_legacy());
        assert_eq!(legacy.to_string(), "legacy");
        let both = HandshakeInfo {
            peer_answer: modern,
            peer_challenge: modern,
        };
        assert!(!both.is_legacy());
        assert_eq!(both.to_string(), "modern sha256");
        let mixed = HandshakeInfo {
            peer_answer: Scheme::LEGACY,
            peer_challenge: modern,
        };
        assert!(!mixed.is_legacy());
        assert_eq!(
            mixed.to_string(),
            "mixed answer=legacy md5 challenge={sha256}"
        );
    }
}
