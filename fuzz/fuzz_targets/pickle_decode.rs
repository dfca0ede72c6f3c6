//! cargo-fuzz target: `mpcluster_wire::pickle::decode` on arbitrary bytes
//! with the default limits (body in `src/pickle_decode.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../src/pickle_decode.rs"]
mod body;

fuzz_target!(|data: &[u8]| body::run(data));
