//! The handshake state machine: both roles of CPython's mutual
//! challenge-response, fed frame payloads and returning payloads to send.
//!
//! The server delivers its challenge and then answers the client's; the
//! client does the reverse (`multiprocessing.connection.Client` /
//! `Listener.accept`, spec 4.1). Each `handle` call consumes one frame of the
//! peer and queues at most two payloads (a verdict, then our own challenge
//! when the client moves on to delivering).

use std::collections::VecDeque;
use std::fmt;

use rand::{CryptoRng, RngCore};

use super::digest::{parse_message, prefixed_response};
use super::{
    AuthError, AuthPolicy, Digest, HandshakeInfo, Role, Scheme, ANNOUNCED, CHALLENGE, FAILURE,
    MAX_HANDSHAKE_FRAME, MD5ONLY_MESSAGE_LEN, NONCE_LEN, WELCOME,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Our challenge is queued; waiting for the peer's answer.
    AwaitAnswer,
    /// Waiting for the peer's challenge.
    AwaitChallenge,
    /// Our answer is queued; waiting for `#WELCOME#`.
    AwaitVerdict,
    Done,
    Failed,
}

/// One side of the mutual authkey handshake.
pub struct Handshake {
    role: Role,
    policy: AuthPolicy,
    authkey: Vec<u8>,
    /// Our challenge body: `{sha256}` + nonce; the MAC covers all of it.
    message: Vec<u8>,
    state: State,
    outbox: VecDeque<Vec<u8>>,
    peer_answer: Option<Scheme>,
    peer_challenge: Option<Scheme>,
}

impl fmt::Debug for Handshake {
    // Hand-written so the authkey and nonce never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handshake")
            .field("role", &self.role)
            .field("policy", &self.policy)
            .field("state", &self.state)
            .field("queued", &self.outbox.len())
            .finish_non_exhaustive()
    }
}

impl Handshake {
    /// The accepting side, with a nonce drawn from `rng`.
    pub fn server<R: RngCore + CryptoRng + ?Sized>(
        authkey: &[u8],
        policy: AuthPolicy,
        rng: &mut R,
    ) -> Self {
        Self::with_nonce(Role::Server, authkey, policy, random_nonce(rng))
    }

    /// The connecting side, with a nonce drawn from `rng`.
    pub fn client<R: RngCore + CryptoRng + ?Sized>(
        authkey: &[u8],
        policy: AuthPolicy,
        rng: &mut R,
    ) -> Self {
        Self::with_nonce(Role::Client, authkey, policy, random_nonce(rng))
    }

    /// Either side with a fixed nonce: byte-exact tests and replays only; a
    /// reused nonce lets an eavesdropper replay an answer.
    pub fn with_nonce(
        role: Role,
        authkey: &[u8],
        policy: AuthPolicy,
        nonce: [u8; NONCE_LEN],
    ) -> Self {
        let mut message = prefixed_response(ANNOUNCED, &[]);
        message.extend_from_slice(&nonce);
        let mut hs = Handshake {
            role,
            policy,
            authkey: authkey.to_vec(),
            message,
            state: State::AwaitChallenge,
            outbox: VecDeque::new(),
            peer_answer: None,
            peer_challenge: None,
        };
        if role == Role::Server {
            hs.queue_challenge();
        }
        hs
    }

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The next payload to frame and send, in order. After
    /// [`handle`](Self::handle) fails as verifier, this still yields the
    /// `#FAILURE#` verdict: send it before closing so a CPython peer raises
    /// its usual `AuthenticationError`.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.outbox.pop_front()
    }

    /// Whether the handshake waits for a frame from the peer.
    pub fn wants_read(&self) -> bool {
        matches!(
            self.state,
            State::AwaitAnswer | State::AwaitChallenge | State::AwaitVerdict
        )
    }

    /// Whether both directions are authenticated. Payloads may still be
    /// queued (the client's final `#WELCOME#`): drain
    /// [`poll_transmit`](Self::poll_transmit) first.
    pub fn is_complete(&self) -> bool {
        self.state == State::Done
    }

    /// How the peer authenticated, once the handshake is complete.
    pub fn info(&self) -> Option<HandshakeInfo> {
        match (self.state, self.peer_answer, self.peer_challenge) {
            (State::Done, Some(peer_answer), Some(peer_challenge)) => Some(HandshakeInfo {
                peer_answer,
                peer_challenge,
            }),
            _ => None,
        }
    }

    /// Feeds the payload of the peer's next frame. Any error is final: the
    /// connection must be closed once the queued payloads are sent.
    pub fn handle(&mut self, payload: &[u8]) -> Result<(), AuthError> {
        if payload.len() > MAX_HANDSHAKE_FRAME {
            self.state = State::Failed;
            return Err(AuthError::BadMessageLength(payload.len()));
        }
        let result = match self.state {
            State::AwaitAnswer => self.on_answer(payload),
            State::AwaitChallenge => self.on_challenge(payload),
            State::AwaitVerdict => self.on_verdict(payload),
            State::Done => return Err(AuthError::Unexpected("completed")),
            State::Failed => return Err(AuthError::Unexpected("failed")),
        };
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }

    fn queue_challenge(&mut self) {
        let mut frame = Vec::with_capacity(CHALLENGE.len() + self.message.len());
        frame.extend_from_slice(CHALLENGE);
        frame.extend_from_slice(&self.message);
        self.outbox.push_back(frame);
        self.state = State::AwaitAnswer;
    }

    /// `deliver_challenge`, second half: check the answer, send the verdict.
    fn on_answer(&mut self, answer: &[u8]) -> Result<(), AuthError> {
        match self.verify_answer(answer) {
            Ok(scheme) => {
                self.outbox.push_back(WELCOME.to_vec());
                self.peer_answer = Some(scheme);
                self.state = match self.role {
                    Role::Server => State::AwaitChallenge,
                    Role::Client => State::Done,
                };
                Ok(())
            }
            Err(err) => {
                // CPython sends `#FAILURE#` before raising.
                self.outbox.push_back(FAILURE.to_vec());
                Err(err)
            }
        }
    }

    /// CPython 3.12 `_verify_challenge`, with the MD5 policy on top.
    fn verify_answer(&self, answer: &[u8]) -> Result<Scheme, AuthError> {
        let parsed = parse_message(answer).ok_or(AuthError::UnsupportedDigest)?;
        let digest = parsed.scheme.digest;
        if digest == Digest::Md5 && self.policy.refuse_md5 {
            return Err(AuthError::Md5Refused);
        }
        if parsed.payload.len() != digest.output_len() {
            return Err(AuthError::WrongDigestLength {
                digest,
                expected: digest.output_len(),
                got: parsed.payload.len(),
            });
        }
        if !digest.verify(&self.authkey, &self.message, parsed.payload) {
            return Err(AuthError::DigestReceivedWrong);
        }
        Ok(parsed.scheme)
    }

    /// `answer_challenge`, first half: MAC the peer's challenge body.
    fn on_challenge(&mut self, challenge: &[u8]) -> Result<(), AuthError> {
        let body = challenge
            .strip_prefix(CHALLENGE)
            .ok_or(AuthError::ExpectedChallenge)?;
        if body.len() < MD5ONLY_MESSAGE_LEN {
            return Err(AuthError::ChallengeTooShort(body.len()));
        }
        // A 20-byte body is a ≤3.11 challenge whatever its content (CPython
        // 3.12 `_create_response`); other lengths need an allowed prefix.
        let scheme = parse_message(body)
            .ok_or(AuthError::UnsupportedDigest)?
            .scheme;
        if scheme.digest == Digest::Md5 && self.policy.refuse_md5 {
            return Err(AuthError::Md5Refused);
        }
        let mac = scheme.digest.mac(&self.authkey, body);
        let answer = if scheme.prefixed {
            prefixed_response(scheme.digest, &mac)
        } else {
            mac
        };
        self.outbox.push_back(answer);
        self.peer_challenge = Some(scheme);
        self.state = State::AwaitVerdict;
        Ok(())
    }

    /// `answer_challenge`, second half: anything but `#WELCOME#` fails.
    fn on_verdict(&mut self, verdict: &[u8]) -> Result<(), AuthError> {
        if verdict != WELCOME {
            return Err(AuthError::DigestSentRejected);
        }
        match self.role {
            Role::Server => self.state = State::Done,
            Role::Client => self.queue_challenge(),
        }
        Ok(())
    }
}

fn random_nonce<R: RngCore + CryptoRng + ?Sized>(rng: &mut R) -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    nonce
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"mpcluster-capture-key";
    const SERVER_NONCE: [u8; NONCE_LEN] = [0x11; NONCE_LEN];
    const CLIENT_NONCE: [u8; NONCE_LEN] = [0x22; NONCE_LEN];

    fn server(key: &[u8], policy: AuthPolicy) -> Handshake {
        Handshake::with_nonce(Role::Server, key, policy, SERVER_NONCE)
    }

    fn client(key: &[u8], policy: AuthPolicy) -> Handshake {
        Handshake::with_nonce(Role::Client, key, policy, CLIENT_NONCE)
    }

    /// The server's result, the client's result, every payload exchanged.
    type Exchange = (Result<(), AuthError>, Result<(), AuthError>, Vec<Vec<u8>>);

    /// Shuttles payloads between two handshakes until neither has anything
    /// to send, returning the first error of each side and the transcript.
    fn run(server: &mut Handshake, client: &mut Handshake) -> Exchange {
        let (mut s_res, mut c_res) = (Ok(()), Ok(()));
        let mut transcript = Vec::new();
        loop {
            let mut moved = false;
            while let Some(p) = server.poll_transmit() {
                moved = true;
                transcript.push(p.clone());
                if c_res.is_ok() {
                    c_res = client.handle(&p);
                }
            }
            while let Some(p) = client.poll_transmit() {
                moved = true;
                transcript.push(p.clone());
                if s_res.is_ok() {
                    s_res = server.handle(&p);
                }
            }
            if !moved {
                return (s_res, c_res, transcript);
            }
        }
    }

    #[test]
    fn same_key_completes_both_sides_in_cpython_order() {
        let (mut s, mut c) = (
            server(KEY, AuthPolicy::default()),
            client(KEY, AuthPolicy::default()),
        );
        assert!(s.wants_read() && c.wants_read());
        let (sr, cr, transcript) = run(&mut s, &mut c);
        assert_eq!((sr, cr), (Ok(()), Ok(())));
        assert!(s.is_complete() && c.is_complete());
        assert!(!s.wants_read() && !c.wants_read());
        // Six frames: challenge, answer, verdict in each direction.
        assert_eq!(transcript.len(), 6);
        assert!(transcript[0].starts_with(b"#CHALLENGE#{sha256}"));
        assert_eq!(transcript[0].len(), 11 + 8 + NONCE_LEN);
        assert!(transcript[1].starts_with(b"{sha256}"));
        assert_eq!(transcript[1].len(), 8 + 32);
        assert_eq!(transcript[2], WELCOME);
        assert!(transcript[3].starts_with(b"#CHALLENGE#{sha256}"));
        assert_eq!(transcript[5], WELCOME);
        let info = s.info().unwrap();
        assert!(!info.is_legacy());
        assert_eq!(info.to_string(), "modern sha256");
        assert_eq!(c.info().unwrap().peer_answer.digest, Digest::Sha256);
    }

    #[test]
    fn empty_authkey_is_a_valid_key() {
        let (mut s, mut c) = (
            server(b"", AuthPolicy::default()),
            client(b"", AuthPolicy::default()),
        );
        let (sr, cr, _) = run(&mut s, &mut c);
        assert_eq!((sr, cr), (Ok(()), Ok(())));
    }

    #[test]
    fn wrong_key_fails_both_sides_with_cpython_errors() {
        let (mut s, mut c) = (
            server(KEY, AuthPolicy::default()),
            client(b"other", AuthPolicy::default()),
        );
        let (sr, cr, transcript) = run(&mut s, &mut c);
        assert_eq!(sr, Err(AuthError::DigestReceivedWrong));
        assert_eq!(cr, Err(AuthError::DigestSentRejected));
        assert_eq!(transcript.last().unwrap(), FAILURE);
        assert_eq!(transcript.len(), 3);
        assert_eq!(sr.unwrap_err().to_string(), "digest received was wrong");
        assert_eq!(cr.unwrap_err().to_string(), "digest sent was rejected");
        assert!(s.info().is_none() && !c.is_complete());
        assert_eq!(s.handle(b"x"), Err(AuthError::Unexpected("failed")));
    }

    #[test]
    fn client_as_verifier_rejects_a_wrong_answer() {
        let mut c = client(KEY, AuthPolicy::default());
        let mut challenge = CHALLENGE.to_vec();
        challenge.extend_from_slice(b"{sha256}");
        challenge.extend_from_slice(&SERVER_NONCE);
        c.handle(&challenge).unwrap();
        assert!(c.poll_transmit().is_some());
        c.handle(WELCOME).unwrap();
        assert!(c.poll_transmit().unwrap().starts_with(b"#CHALLENGE#"));
        let wrong = prefixed_response(Digest::Sha256, &[0u8; 32]);
        assert_eq!(c.handle(&wrong), Err(AuthError::DigestReceivedWrong));
        assert_eq!(c.poll_transmit().unwrap(), FAILURE);
        assert_eq!(c.poll_transmit(), None);
    }

    #[test]
    fn verifier_accepts_every_allowed_digest_and_raw_md5() {
        let mut answers: Vec<Vec<u8>> = Digest::ALL
            .into_iter()
            .map(|d| prefixed_response(d, &d.mac(KEY, &server(KEY, AuthPolicy::default()).message)))
            .collect();
        answers.push(Digest::Md5.mac(KEY, &server(KEY, AuthPolicy::default()).message));
        for answer in answers {
            let mut s = server(KEY, AuthPolicy::default());
            s.poll_transmit().unwrap();
            assert_eq!(s.handle(&answer), Ok(()), "{answer:?}");
            assert_eq!(s.poll_transmit().unwrap(), WELCOME);
        }
    }

    #[test]
    fn verifier_refuses_bad_answers_with_cpython_messages() {
        let message = server(KEY, AuthPolicy::default()).message;
        let cases: Vec<(Vec<u8>, AuthError, &str)> = vec![
            (
                vec![0u8; 20],
                AuthError::WrongDigestLength {
                    digest: Digest::Md5,
                    expected: 16,
                    got: 20,
                },
                "expected 'md5' of length 16 got 20",
            ),
            (
                prefixed_response(Digest::Sha256, &Digest::Sha256.mac(KEY, &message)[..31]),
                AuthError::WrongDigestLength {
                    digest: Digest::Sha256,
                    expected: 32,
                    got: 31,
                },
                "expected 'sha256' of length 32 got 31",
            ),
            (
                b"{sha512}0123456789abcdef0123456789abcdef".to_vec(),
                AuthError::UnsupportedDigest,
                "unsupported message length, missing digest prefix, or unsupported digest",
            ),
            (
                vec![],
                AuthError::UnsupportedDigest,
                "unsupported message length, missing digest prefix, or unsupported digest",
            ),
            (
                prefixed_response(Digest::Sha256, &Digest::Sha256.mac(KEY, &SERVER_NONCE)),
                AuthError::DigestReceivedWrong,
                "digest received was wrong",
            ),
        ];
        for (answer, want, text) in cases {
            let mut s = server(KEY, AuthPolicy::default());
            s.poll_transmit().unwrap();
            assert_eq!(s.handle(&answer), Err(want.clone()));
            assert_eq!(want.to_string(), text);
            assert_eq!(s.poll_transmit().unwrap(), FAILURE);
            assert!(!s.wants_read());
        }
    }

    #[test]
    fn refuse_md5_policy_blocks_md5_in_both_roles() {
        let strict = AuthPolicy { refuse_md5: true };
        let message = server(KEY, strict).message;
        for answer in [
            Digest::Md5.mac(KEY, &message),
            prefixed_response(Digest::Md5, &Digest::Md5.mac(KEY, &message)),
        ] {
            let mut s = server(KEY, strict);
            s.poll_transmit().unwrap();
            assert_eq!(s.handle(&answer), Err(AuthError::Md5Refused));
            assert_eq!(s.poll_transmit().unwrap(), FAILURE);
        }
        // As prover: a 20-byte (legacy) challenge is not answered.
        let mut c = client(KEY, strict);
        let mut legacy = CHALLENGE.to_vec();
        legacy.extend_from_slice(&[0x80; 20]);
        assert_eq!(c.handle(&legacy), Err(AuthError::Md5Refused));
        assert_eq!(c.poll_transmit(), None);
        // The modern exchange still works under the strict policy.
        let (sr, cr, _) = run(&mut server(KEY, strict), &mut client(KEY, strict));
        assert_eq!((sr, cr), (Ok(()), Ok(())));
    }

    #[test]
    fn prover_refuses_malformed_challenges() {
        let cases: Vec<(&[u8], AuthError, &str)> = vec![
            (
                b"#WELCOME#",
                AuthError::ExpectedChallenge,
                "Protocol error, expected challenge",
            ),
            (
                b"#CHALLENGE#0123456789abcdef",
                AuthError::ChallengeTooShort(16),
                "challenge too short: 16 bytes",
            ),
            (
                b"#CHALLENGE#",
                AuthError::ChallengeTooShort(0),
                "challenge too short: 0 bytes",
            ),
            (
                b"#CHALLENGE#{sha512}0123456789abcdef0123456789",
                AuthError::UnsupportedDigest,
                "unsupported message length, missing digest prefix, or unsupported digest",
            ),
            (
                b"#CHALLENGE#0123456789abcdefghijk",
                AuthError::UnsupportedDigest,
                "unsupported message length, missing digest prefix, or unsupported digest",
            ),
        ];
        for (challenge, want, text) in cases {
            let mut c = client(KEY, AuthPolicy::default());
            assert_eq!(c.handle(challenge), Err(want.clone()));
            assert_eq!(want.to_string(), text);
            assert_eq!(c.poll_transmit(), None);
        }
    }

    #[test]
    fn prover_answers_twenty_bytes_with_raw_md5_even_if_prefixed() {
        // CPython 3.12: a 20-byte body is legacy whatever it holds.
        let body = b"{sha256}0123456789ab";
        let mut c = client(KEY, AuthPolicy::default());
        let mut challenge = CHALLENGE.to_vec();
        challenge.extend_from_slice(body);
        c.handle(&challenge).unwrap();
        assert_eq!(c.poll_transmit().unwrap(), Digest::Md5.mac(KEY, body));
    }

    #[test]
    fn prover_echoes_the_digest_the_challenge_names() {
        let body = b"{sha3_384}abcdefghijklmnopqrstuvwxyz";
        let mut c = client(KEY, AuthPolicy::default());
        let mut challenge = CHALLENGE.to_vec();
        challenge.extend_from_slice(body);
        c.handle(&challenge).unwrap();
        let answer = c.poll_transmit().unwrap();
        assert_eq!(
            answer,
            prefixed_response(Digest::Sha3_384, &Digest::Sha3_384.mac(KEY, body))
        );
    }

    #[test]
    fn oversized_payload_and_late_payloads_are_errors() {
        let mut s = server(KEY, AuthPolicy::default());
        assert_eq!(s.handle(&[0u8; 257]), Err(AuthError::BadMessageLength(257)));
        let (mut s, mut c) = (
            server(KEY, AuthPolicy::default()),
            client(KEY, AuthPolicy::default()),
        );
        let (sr, cr, _) = run(&mut s, &mut c);
        assert_eq!((sr, cr), (Ok(()), Ok(())));
        assert_eq!(s.handle(WELCOME), Err(AuthError::Unexpected("completed")));
    }

    #[test]
    fn rng_constructors_draw_distinct_nonces() {
        let mut rng = rand::rngs::OsRng;
        let a = Handshake::server(KEY, AuthPolicy::default(), &mut rng).poll_transmit();
        let b = Handshake::server(KEY, AuthPolicy::default(), &mut rng).poll_transmit();
        assert_ne!(a, b);
        let mut c = Handshake::client(KEY, AuthPolicy::default(), &mut rng);
        assert_eq!(c.role(), Role::Client);
        assert_eq!(c.poll_transmit(), None);
    }

    #[test]
    fn debug_output_hides_the_authkey() {
        let s = server(KEY, AuthPolicy::default());
        let text = format!("{s:?}");
        assert!(
            !text.contains("mpcluster") && !text.contains("109"),
            "{text}"
        );
    }
}
