//! Byte-exact handshake tests against the fixed-nonce frames that CPython's
//! own `deliver_challenge` / `answer_challenge` produced (spec section 12,
//! `testdata/handshake-fixed-nonces.json`, replayed with CPython 3.12.1 and
//! 3.11.7), plus both roles of our state machine talking to each other.
//!
//! Replays pin our nonce to the vector's, play one side of a case frame by
//! frame, and require every payload we send to equal CPython's bytes and
//! every frame to encode to CPython's exact length prefix.

use bytes::BytesMut;
use mpcluster_wire::frame::FrameCodec;
use mpcluster_wire::handshake::{
    AuthError, AuthPolicy, Digest, Handshake, Role, FAILURE, NONCE_LEN, WELCOME,
};
use serde_json::Value as Json;
use tokio_util::codec::{Decoder, Encoder};

const VECTORS: &str = include_str!("../testdata/handshake-fixed-nonces.json");

const MODERN_BOTH: &str = "3.12+ client <-> 3.12+ server";
const LEGACY_CLIENT: &str = "<=3.11 client -> 3.12+ server";
const LEGACY_SERVER: &str = "3.12+ client -> <=3.11 server";
const LEGACY_BOTH: &str = "<=3.11 client <-> <=3.11 server";

struct Frame {
    /// `true` for client-to-server.
    c2s: bool,
    payload: Vec<u8>,
    frame: Vec<u8>,
}

fn vectors() -> Json {
    serde_json::from_str(VECTORS).expect("vector file is valid JSON")
}

fn hex_field(v: &Json, key: &str) -> Vec<u8> {
    hex::decode(v[key].as_str().unwrap_or_else(|| panic!("missing {key}"))).unwrap()
}

fn authkey() -> Vec<u8> {
    hex_field(&vectors(), "authkey_hex")
}

fn nonce(prefix: &str) -> Vec<u8> {
    let v = vectors();
    let nonces = v["nonces"].as_object().unwrap();
    let (_, hex) = nonces
        .iter()
        .find(|(k, _)| k.starts_with(prefix))
        .unwrap_or_else(|| panic!("no nonce {prefix}"));
    hex::decode(hex.as_str().unwrap()).unwrap()
}

fn nonce40(prefix: &str) -> [u8; NONCE_LEN] {
    nonce(prefix).try_into().expect("40-byte nonce")
}

fn frames(case: &str) -> Vec<Frame> {
    let v = vectors();
    v["cases"][case]["frames"]
        .as_array()
        .unwrap_or_else(|| panic!("no case {case}"))
        .iter()
        .map(|f| Frame {
            c2s: f["dir"] == "c2s",
            payload: hex_field(f, "payload_hex"),
            frame: hex_field(f, "frame_hex"),
        })
        .collect()
}

/// Plays `role` through `frames[..upto]`: what we send must equal the
/// vector byte for byte, what the peer sent is fed to us.
fn replay(hs: &mut Handshake, frames: &[Frame]) {
    let ours_c2s = hs.role() == Role::Client;
    for (i, f) in frames.iter().enumerate() {
        if f.c2s == ours_c2s {
            let sent = hs
                .poll_transmit()
                .unwrap_or_else(|| panic!("frame {i}: nothing to send"));
            assert_eq!(hex::encode(&sent), hex::encode(&f.payload), "frame {i}");
            assert_eq!(encode(&sent), f.frame, "frame {i} framing");
        } else {
            hs.handle(&f.payload)
                .unwrap_or_else(|e| panic!("frame {i}: {e}"));
        }
    }
    assert_eq!(hs.poll_transmit(), None);
    assert!(hs.is_complete());
}

fn encode(payload: &[u8]) -> Vec<u8> {
    let mut dst = BytesMut::new();
    FrameCodec::new(256).encode(payload, &mut dst).unwrap();
    dst.to_vec()
}

fn modern_server() -> Handshake {
    Handshake::with_nonce(
        Role::Server,
        &authkey(),
        AuthPolicy::default(),
        nonce40("server_40"),
    )
}

fn modern_client() -> Handshake {
    Handshake::with_nonce(
        Role::Client,
        &authkey(),
        AuthPolicy::default(),
        nonce40("client_40"),
    )
}

#[test]
fn every_vector_frame_decodes_to_its_payload() {
    let v = vectors();
    let mut count = 0;
    for case in v["cases"].as_object().unwrap().keys() {
        for f in frames(case) {
            let mut buf = BytesMut::from(&f.frame[..]);
            let got = FrameCodec::new(256).decode(&mut buf).unwrap().unwrap();
            assert_eq!(&got[..], &f.payload[..]);
            assert!(buf.is_empty());
            assert_eq!(encode(&f.payload), f.frame);
            count += 1;
        }
    }
    assert_eq!(count, 24);
}

#[test]
fn modern_server_matches_cpython_3_12() {
    let mut s = modern_server();
    replay(&mut s, &frames(MODERN_BOTH));
    let info = s.info().unwrap();
    assert_eq!(info.to_string(), "modern sha256");
}

#[test]
fn modern_client_matches_cpython_3_12() {
    let mut c = modern_client();
    replay(&mut c, &frames(MODERN_BOTH));
    assert_eq!(c.info().unwrap().to_string(), "modern sha256");
}

#[test]
fn legacy_client_is_welcomed_by_our_server() {
    // A ≤3.11 client answers `{sha256}`+nonce with raw MD5 over all 48
    // bytes and challenges with 20 bytes; we answer that with raw MD5.
    let mut s = modern_server();
    replay(&mut s, &frames(LEGACY_CLIENT));
    let info = s.info().unwrap();
    assert!(info.is_legacy());
    assert_eq!(info.to_string(), "legacy");
}

#[test]
fn our_client_talks_to_a_legacy_server() {
    let mut c = modern_client();
    replay(&mut c, &frames(LEGACY_SERVER));
    assert!(c.info().unwrap().is_legacy());
}

#[test]
fn legacy_challenges_get_cpython_3_11_answers_in_both_roles() {
    let frames = frames(LEGACY_BOTH);
    // Client role: answer the ≤3.11 server's 20-byte challenge.
    let mut c = modern_client();
    c.handle(&frames[0].payload).unwrap();
    assert_eq!(c.poll_transmit().unwrap(), frames[1].payload);
    // Server role: after our own challenge is answered, answer the ≤3.11
    // client's 20-byte challenge.
    let mut s = modern_server();
    let challenge = s.poll_transmit().unwrap();
    let body = &challenge[b"#CHALLENGE#".len()..];
    s.handle(&Digest::Md5.mac(&authkey(), body)).unwrap();
    assert_eq!(s.poll_transmit().unwrap(), WELCOME);
    s.handle(&frames[3].payload).unwrap();
    assert_eq!(s.poll_transmit().unwrap(), frames[4].payload);
    s.handle(&frames[5].payload).unwrap();
    assert!(s.is_complete());
}

fn answer_first_challenge(answer: &[u8]) -> (Result<(), AuthError>, Vec<u8>) {
    let mut s = modern_server();
    assert_eq!(s.poll_transmit().unwrap(), frames(MODERN_BOTH)[0].payload);
    let res = s.handle(answer);
    (res, encode(&s.poll_transmit().unwrap()))
}

#[test]
fn sha384_answer_to_sha256_challenge_is_welcomed() {
    // Spec 12.4: a 3.12+ verifier accepts any allowed digest.
    let mut answer = b"{sha384}".to_vec();
    answer.extend(
        hex::decode(
            "d50b52f2a970f60757d42d07b4a2c6296122ccc18c633cd187c3291097c68cd5\
             284ab4b611495f55dc4cff444252fd68",
        )
        .unwrap(),
    );
    let (res, verdict) = answer_first_challenge(&answer);
    assert_eq!(res, Ok(()));
    assert_eq!(hex::encode(verdict), "000000092357454c434f4d4523");
}

#[test]
fn wrong_key_gets_the_failure_frame() {
    let mut wrong = Handshake::with_nonce(
        Role::Client,
        b"not-the-key",
        AuthPolicy::default(),
        nonce40("client_40"),
    );
    wrong.handle(&frames(MODERN_BOTH)[0].payload).unwrap();
    let answer = wrong.poll_transmit().unwrap();
    let (res, verdict) = answer_first_challenge(&answer);
    assert_eq!(res, Err(AuthError::DigestReceivedWrong));
    assert_eq!(hex::encode(verdict), "00000009234641494c55524523");
    // And the wrong-key client reads that verdict as CPython's client does.
    assert_eq!(wrong.handle(FAILURE), Err(AuthError::DigestSentRejected));
}

#[test]
fn mac_without_the_prefix_is_rejected() {
    let mut answer = b"{sha256}".to_vec();
    answer.extend(Digest::Sha256.mac(&authkey(), &nonce("server_40")));
    let (res, verdict) = answer_first_challenge(&answer);
    assert_eq!(res, Err(AuthError::DigestReceivedWrong));
    assert_eq!(res.unwrap_err().to_string(), "digest received was wrong");
    assert_eq!(verdict, encode(FAILURE));
}

#[test]
fn refuse_md5_turns_away_legacy_peers_in_both_roles() {
    let strict = AuthPolicy { refuse_md5: true };
    let legacy_answer = &frames(LEGACY_CLIENT)[1].payload;
    let mut s = Handshake::with_nonce(Role::Server, &authkey(), strict, nonce40("server_40"));
    s.poll_transmit().unwrap();
    assert_eq!(s.handle(legacy_answer), Err(AuthError::Md5Refused));
    assert_eq!(s.poll_transmit().unwrap(), FAILURE);

    let legacy_challenge = &frames(LEGACY_SERVER)[0].payload;
    let mut c = Handshake::with_nonce(Role::Client, &authkey(), strict, nonce40("client_40"));
    assert_eq!(c.handle(legacy_challenge), Err(AuthError::Md5Refused));
    assert_eq!(c.poll_transmit(), None);

    // Modern peers are unaffected.
    let mut s = Handshake::with_nonce(Role::Server, &authkey(), strict, nonce40("server_40"));
    replay(&mut s, &frames(MODERN_BOTH));
}

/// Runs two handshakes against each other; returns each side's outcome.
fn pair(server_key: &[u8], client_key: &[u8]) -> (Handshake, Handshake, Vec<AuthError>) {
    let mut rng = rand::rngs::OsRng;
    let mut s = Handshake::server(server_key, AuthPolicy::default(), &mut rng);
    let mut c = Handshake::client(client_key, AuthPolicy::default(), &mut rng);
    let mut errors = Vec::new();
    for _ in 0..8 {
        while let Some(p) = s.poll_transmit() {
            if let Err(e) = c.handle(&p) {
                errors.push(e);
            }
        }
        while let Some(p) = c.poll_transmit() {
            if let Err(e) = s.handle(&p) {
                errors.push(e);
            }
        }
    }
    (s, c, errors)
}

#[test]
fn our_roles_complete_with_the_same_key() {
    let (s, c, errors) = pair(b"k", b"k");
    assert!(errors.is_empty(), "{errors:?}");
    assert!(s.is_complete() && c.is_complete());
}

#[test]
fn our_roles_fail_on_both_sides_with_different_keys() {
    let (s, c, errors) = pair(b"k", b"K");
    assert_eq!(
        errors,
        vec![
            AuthError::DigestReceivedWrong,
            AuthError::DigestSentRejected
        ]
    );
    assert!(!s.is_complete() && !c.is_complete());
}
