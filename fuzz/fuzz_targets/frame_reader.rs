//! cargo-fuzz target: `FrameCodec` decoding of arbitrary bytes with a small
//! maximum (body in `src/frame_reader.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../src/frame_reader.rs"]
mod body;

fuzz_target!(|data: &[u8]| body::run(data));
