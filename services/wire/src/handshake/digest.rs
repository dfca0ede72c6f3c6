//! The HMAC digests of the authkey handshake and the `{name}` prefix that
//! names them.
//!
//! CPython 3.12 added a `{digest}` prefix to challenges and responses while
//! keeping the ≤3.11 raw HMAC-MD5 form; the only legacy signal is a message
//! length of 16 or 20 bytes (`multiprocessing.connection.
//! _get_digest_name_and_payload`, spec 4.3). [`parse_message`] reproduces that
//! rule for both roles of `super::Handshake`; [`Digest::mac`] and
//! [`Digest::verify`] compute and check the MACs, the latter in constant time.

use std::fmt;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};

/// The digests CPython 3.12+ allows (`_ALLOWED_DIGESTS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Digest {
    Md5,
    Sha256,
    Sha384,
    Sha3_256,
    Sha3_384,
}

impl Digest {
    /// Every allowed digest, in CPython's naming.
    pub const ALL: [Digest; 5] = [
        Digest::Md5,
        Digest::Sha256,
        Digest::Sha384,
        Digest::Sha3_256,
        Digest::Sha3_384,
    ];

    /// The name used inside `{...}` (hashlib's name).
    pub fn name(self) -> &'static str {
        match self {
            Digest::Md5 => "md5",
            Digest::Sha256 => "sha256",
            Digest::Sha384 => "sha384",
            Digest::Sha3_256 => "sha3_256",
            Digest::Sha3_384 => "sha3_384",
        }
    }

    /// The digest a `{name}` prefix names, if CPython allows it.
    pub fn from_name(name: &[u8]) -> Option<Digest> {
        Digest::ALL
            .into_iter()
            .find(|d| d.name().as_bytes() == name)
    }

    /// Length of the raw MAC in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Digest::Md5 => 16,
            Digest::Sha256 | Digest::Sha3_256 => 32,
            Digest::Sha384 | Digest::Sha3_384 => 48,
        }
    }

    /// `HMAC-<self>(key, msg)`, raw.
    pub fn mac(self, key: &[u8], msg: &[u8]) -> Vec<u8> {
        match self {
            Digest::Md5 => mac_with::<Hmac<md5::Md5>>(key, msg),
            Digest::Sha256 => mac_with::<Hmac<sha2::Sha256>>(key, msg),
            Digest::Sha384 => mac_with::<Hmac<sha2::Sha384>>(key, msg),
            Digest::Sha3_256 => mac_with::<Hmac<sha3::Sha3_256>>(key, msg),
            Digest::Sha3_384 => mac_with::<Hmac<sha3::Sha3_384>>(key, msg),
        }
    }

    /// Whether `tag` is `HMAC-<self>(key, msg)`, compared in constant time
    /// (CPython 3.12+ uses `hmac.compare_digest`; ≤3.11 used `==`).
    pub fn verify(self, key: &[u8], msg: &[u8], tag: &[u8]) -> bool {
        match self {
            Digest::Md5 => verify_with::<Hmac<md5::Md5>>(key, msg, tag),
            Digest::Sha256 => verify_with::<Hmac<sha2::Sha256>>(key, msg, tag),
            Digest::Sha384 => verify_with::<Hmac<sha2::Sha384>>(key, msg, tag),
            Digest::Sha3_256 => verify_with::<Hmac<sha3::Sha3_256>>(key, msg, tag),
            Digest::Sha3_384 => verify_with::<Hmac<sha3::Sha3_384>>(key, msg, tag),
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn keyed<M: Mac + KeyInit>(key: &[u8]) -> M {
    // HMAC accepts keys of any length (longer ones are hashed first), so
    // `new_from_slice` cannot fail for any `Hmac<D>`.
    <M as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length")
}

fn mac_with<M: Mac + KeyInit>(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut mac = keyed::<M>(key);
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

fn verify_with<M: Mac + KeyInit>(key: &[u8], msg: &[u8], tag: &[u8]) -> bool {
    let mut mac = keyed::<M>(key);
    mac.update(msg);
    // `verify_slice` compares with `subtle`'s constant-time equality.
    mac.verify_slice(tag).is_ok()
}

/// How one handshake message named its digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheme {
    /// The HMAC used.
    pub digest: Digest,
    /// `true` for the 3.12+ form with a `{name}` prefix; `false` for the
    /// ≤3.11 raw form (always MD5).
    pub prefixed: bool,
}

impl Scheme {
    /// The ≤3.11 scheme: raw HMAC-MD5, no prefix.
    pub const LEGACY: Scheme = Scheme {
        digest: Digest::Md5,
        prefixed: false,
    };
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefixed {
            write!(f, "{{{}}}", self.digest)
        } else {
            f.write_str("legacy md5")
        }
    }
}

/// A challenge body or a response split the way CPython splits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parsed<'a> {
    pub scheme: Scheme,
    /// The bytes after the prefix (the whole message in the legacy form).
    pub payload: &'a [u8],
}

/// Lengths that mark a legacy message: a ≤3.11 challenge body (20 bytes) or
/// a raw HMAC-MD5 response (16 bytes), CPython `_LEGACY_LENGTHS`.
const LEGACY_LENGTHS: [usize; 2] = [16, 20];

/// The closing `}` must sit at offset 9 or less: CPython searches
/// `message.find(b'}', 1, _MAX_DIGEST_LEN + 2)` with `_MAX_DIGEST_LEN == 8`.
const PREFIX_SEARCH_END: usize = 10;

/// CPython's `_get_digest_name_and_payload`: `None` where CPython raises
/// "unsupported message length, missing digest prefix, or unsupported
/// digest".
pub(crate) fn parse_message(message: &[u8]) -> Option<Parsed<'_>> {
    if LEGACY_LENGTHS.contains(&message.len()) {
        return Some(Parsed {
            scheme: Scheme::LEGACY,
            payload: message,
        });
    }
    if message.first() != Some(&b'{') {
        return None;
    }
    let window = message.get(1..message.len().min(PREFIX_SEARCH_END))?;
    let close = 1 + window.iter().position(|&b| b == b'}')?;
    let digest = Digest::from_name(message.get(1..close)?)?;
    Some(Parsed {
        scheme: Scheme {
            digest,
            prefixed: true,
        },
        payload: message.get(close + 1..)?,
    })
}

/// `{name}` + raw MAC: the 3.12+ response form.
pub(crate) fn prefixed_response(digest: Digest, mac: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(digest.name().len() + 2 + mac.len());
    out.push(b'{');
    out.extend_from_slice(digest.name().as_bytes());
    out.push(b'}');
    out.extend_from_slice(mac);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"mpcluster-capture-key";

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn macs_match_python_hmac() {
        // python3 -c "import hmac; print(hmac.new(b'mpcluster-capture-key',
        //   b'abc', NAME).hexdigest())" for each allowed NAME.
        let expected = [
            (Digest::Md5, "85c92e357825922d079670651e2d7df0"),
            (
                Digest::Sha256,
                "721908a26091c17fb08ba27ef7790905843c2ad775e8a72df045ebf463358106",
            ),
            (
                Digest::Sha384,
                "0848abf9367e0f08557c3c868e8f13ffa3c77c84173803d2b4911c5de1c246d9\
                 a86b351e4c1d6400909c7440f70e49df",
            ),
            (
                Digest::Sha3_256,
                "047c6eec4065073e861d3fcc42033c7e7a87ee4954a3591bfa950b656e00ead1",
            ),
            (
                Digest::Sha3_384,
                "994305adb52471a8866c5811ff8293dbe5cc055361a0efd87977a934ddd4208e\
                 93c4d75a215d3ea108ebc8ea857f15d9",
            ),
        ];
        for (digest, want) in expected {
            let got = hex(&digest.mac(KEY, b"abc"));
            assert_eq!(got.len(), digest.output_len() * 2);
            assert_eq!(got, want, "{digest}");
        }
    }

    #[test]
    fn verify_accepts_only_the_exact_mac() {
        for digest in Digest::ALL {
            let mac = digest.mac(KEY, b"nonce");
            assert!(digest.verify(KEY, b"nonce", &mac));
            assert!(!digest.verify(b"other", b"nonce", &mac));
            assert!(!digest.verify(KEY, b"nonce", &mac[1..]));
            let mut flipped = mac.clone();
            flipped[0] ^= 1;
            assert!(!digest.verify(KEY, b"nonce", &flipped));
        }
    }

    #[test]
    fn names_round_trip_and_unknown_names_fail() {
        for digest in Digest::ALL {
            assert_eq!(Digest::from_name(digest.name().as_bytes()), Some(digest));
        }
        assert_eq!(Digest::from_name(b"sha512"), None);
        assert_eq!(Digest::from_name(b"SHA256"), None);
        assert_eq!(Digest::from_name(b""), None);
    }

    #[test]
    fn parse_follows_cpython_rules() {
        // 16 and 20 bytes are legacy whatever they contain.
        let sixteen = b"{sha256}01234567";
        assert_eq!(parse_message(sixteen).unwrap().scheme, Scheme::LEGACY);
        assert_eq!(parse_message(&[0u8; 20]).unwrap().payload.len(), 20);
        let p = parse_message(b"{sha3_384}0123456789abc").unwrap();
        assert_eq!(p.scheme.digest, Digest::Sha3_384);
        assert_eq!(p.payload, b"0123456789abc");
        let p = parse_message(b"{md5}0123456789abcdef").unwrap();
        assert_eq!((p.scheme.digest, p.payload.len()), (Digest::Md5, 16));
        assert!(parse_message(b"").is_none());
        assert!(parse_message(b"{sha512}0123456789abcdef").is_none());
        assert!(parse_message(b"sha256}0123456789abcdef").is_none());
        assert!(parse_message(b"{}0123456789abcdefghijk").is_none());
        // A 9-character name puts `}` at offset 10: outside CPython's window.
        assert!(parse_message(b"{sha3_2566}0123456789abcdef").is_none());
        // Prefix alone, empty MAC: parsed (CPython then fails on length).
        assert_eq!(parse_message(b"{sha256}").unwrap().payload, b"");
    }

    #[test]
    fn scheme_display_is_log_friendly() {
        assert_eq!(Scheme::LEGACY.to_string(), "legacy md5");
        let modern = Scheme {
            digest: Digest::Sha256,
            prefixed: true,
        };
        assert_eq!(modern.to_string(), "{sha256}");
        assert_eq!(prefixed_response(Digest::Md5, b"xy"), b"{md5}xy");
    }
}
