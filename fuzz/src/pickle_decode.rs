//! Fuzz body for the pickle decoder, included by path from the
//! `pickle_decode` cargo-fuzz target and from the stable harness
//! `services/wire/tests/fuzz_stable.rs`.
//!
//! The decoder is a parser with depth and size budgets, so the first oracle
//! is that it returns (a value or an error) for every input without
//! panicking, overflowing the stack or allocating beyond its limits. The
//! second follows from the server writing back what it read: whatever
//! decodes must re-encode to a pickle that decodes again and encodes to the
//! same bytes (encodings are compared, not values, because Python equality
//! makes a NaN unequal to itself).

use mpcluster_wire::pickle::{decode, encode, Limits};

/// Runs one fuzz input; any panic is a bug.
pub fn run(data: &[u8]) {
    let limits = Limits::default();
    let Ok(value) = decode(data, &limits) else {
        return;
    };
    let once = encode(&value);
    let again = match decode(&once, &limits) {
        Ok(again) => again,
        Err(err) => panic!("our own encoding does not decode: {err}"),
    };
    assert_eq!(
        encode(&again),
        once,
        "encode(decode(encode(v))) != encode(v)"
    );
}
