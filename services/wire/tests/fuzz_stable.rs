//! Stable-toolchain stand-in for the cargo-fuzz targets in `fuzz/`: runs the
//! very same target bodies (included by path from `fuzz/src/`) on every
//! input that once broke them (`testdata/fuzz/<target>/`, the regression
//! inputs), then on seeded pseudo-random and mutated inputs for a fixed
//! time per target (`MPCLUSTER_FUZZ_SECONDS`, default 5), so every CI run
//! exercises them without nightly or libFuzzer. A failure prints the input
//! in hex; save the bytes under `testdata/fuzz/<target>/` so it stays a
//! regression test, and replay it with `cargo +nightly fuzz run <target>
//! <file>`.

use std::path::Path;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[path = "../../../fuzz/src/frame_reader.rs"]
mod frame_reader;
#[path = "../../../fuzz/src/pickle_decode.rs"]
mod pickle_decode;

const SEED: u64 = 0x6d70_636c_7573_7465;

/// How long each target's random run lasts: a fixed time, not a count, so
/// the run costs CI the same however fast the body is.
fn budget() -> Duration {
    let secs = std::env::var("MPCLUSTER_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(5.0);
    Duration::from_secs_f64(secs)
}

/// Runs `round` (one round of inputs) at least `min_rounds` times and then
/// until the time budget is spent; returns the rounds run.
fn for_a_while(min_rounds: usize, mut round: impl FnMut()) -> usize {
    let started = Instant::now();
    let budget = budget();
    let mut n = 0;
    while n < min_rounds || started.elapsed() < budget {
        round();
        n += 1;
    }
    n
}

/// The inputs that once broke `target`: every file under
/// `testdata/fuzz/<target>/`.
fn regression_inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/fuzz")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_file())
        .filter_map(|e| {
            let bytes = std::fs::read(e.path()).ok()?;
            Some((e.file_name().to_string_lossy().into_owned(), bytes))
        })
        .collect();
    out.sort();
    out
}

/// Runs `body` on `input`, reporting the input if it panics.
fn check(name: &str, body: fn(&[u8]), input: &[u8]) {
    if let Err(panic) = std::panic::catch_unwind(|| body(input)) {
        let hex: String = input.iter().map(|b| format!("{b:02x}")).collect();
        eprintln!("{name} failed on input {hex}");
        std::panic::resume_unwind(panic);
    }
}

/// Applies a handful of random edits: bit flips, byte overwrites with
/// interesting values, truncation, duplication of a slice.
fn mutate(rng: &mut StdRng, input: &mut Vec<u8>) {
    const INTERESTING: [u8; 6] = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];
    for _ in 0..rng.gen_range(1..=4) {
        if input.is_empty() {
            input.push(rng.gen());
            continue;
        }
        let at = rng.gen_range(0..input.len());
        match rng.gen_range(0..5) {
            0 => input[at] ^= 1 << rng.gen_range(0..8),
            1 => input[at] = INTERESTING[rng.gen_range(0..INTERESTING.len())],
            2 => input.truncate(at),
            3 => {
                let end = rng.gen_range(at..=input.len());
                let slice = input[at..end].to_vec();
                input.splice(at..at, slice);
            }
            _ => input.insert(at, rng.gen()),
        }
    }
}

/// Well-formed frames (short and long form) for the frame reader to start
/// from, behind its two control bytes.
fn frame_seed(rng: &mut StdRng) -> Vec<u8> {
    let mut out = vec![rng.gen(), rng.gen()];
    for _ in 0..rng.gen_range(0..6) {
        let len: usize = rng.gen_range(0..300);
        if rng.gen_bool(0.2) {
            out.extend_from_slice(&[0xff; 4]);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        } else {
            out.extend_from_slice(&(len as i32).to_be_bytes());
        }
        out.extend((0..len).map(|_| rng.gen::<u8>()));
    }
    out
}

#[test]
fn frame_reader_survives_random_and_mutated_input() {
    for (_, input) in regression_inputs("frame_reader") {
        check("frame_reader", frame_reader::run, &input);
    }
    let mut rng = StdRng::seed_from_u64(SEED);
    for_a_while(1000, || {
        let len = rng.gen_range(0..200);
        let random: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        check("frame_reader", frame_reader::run, &random);
        let mut input = frame_seed(&mut rng);
        check("frame_reader", frame_reader::run, &input);
        mutate(&mut rng, &mut input);
        check("frame_reader", frame_reader::run, &input);
    });
}

#[test]
fn frame_reader_body_decodes_what_it_is_given() {
    // Guards the harness itself: the body must really decode, byte by byte
    // as well as whole, and report limits instead of dropping frames.
    let stream = b"\x00\x00\x00\x02hi\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x01!";
    for chunk in [1, 3, stream.len()] {
        let out = frame_reader::decode_chunked(stream, 8, chunk);
        assert_eq!(out.frames, vec![b"hi".to_vec(), b"!".to_vec()]);
        assert_eq!(out.end, "eof");
    }
    let out = frame_reader::decode_chunked(b"\x00\x00\x00\x01a\x00\x00\x00\x09", 8, 2);
    assert_eq!((out.frames.len(), out.end), (1, "too large"));
    let out = frame_reader::decode_chunked(b"\x00\x00\x00\x05abc", 8, 2);
    assert_eq!((out.frames.len(), out.end), (0, "truncated"));
    let out = frame_reader::decode_chunked(b"\xff\xff\xff\xfd", 8, 1);
    assert_eq!(out.end, "negative");
}

/// Every pickle payload captured from CPython (`testdata/vectors/`): the
/// frames after the handshake, without their 4-byte length prefix.
fn captured_pickles() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/vectors");
    let mut out = Vec::new();
    for dir in ["py3.11", "cross-version"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            let frames = json["frames"].as_array().cloned().unwrap_or_default();
            for frame in frames {
                // Handshake tokens carry a `text` rendering and handshake
                // answers `derived_bytes` (the HMAC); pickles neither.
                if frame.get("text").is_some() || frame.get("derived_bytes").is_some() {
                    continue;
                }
                if let Some(bytes) = frame["hex"].as_str().and_then(|h| hex::decode(h).ok()) {
                    if bytes.len() > 4 && bytes[4] == 0x80 {
                        out.push(bytes[4..].to_vec());
                    }
                }
            }
        }
    }
    out
}

#[test]
fn pickle_decode_survives_random_and_mutated_pickles() {
    let seeds = captured_pickles();
    assert!(
        seeds.len() > 100,
        "only {} captured pickles found",
        seeds.len()
    );
    for (_, input) in regression_inputs("pickle_decode") {
        check("pickle_decode", pickle_decode::run, &input);
    }
    let mut rng = StdRng::seed_from_u64(SEED);
    for seed in &seeds {
        check("pickle_decode", pickle_decode::run, seed);
    }
    for_a_while(4000, || {
        let len = rng.gen_range(0..64);
        let mut random: Vec<u8> = vec![0x80, 4];
        random.extend((0..len).map(|_| rng.gen::<u8>()));
        check("pickle_decode", pickle_decode::run, &random);
        let mut input = seeds[rng.gen_range(0..seeds.len())].clone();
        mutate(&mut rng, &mut input);
        check("pickle_decode", pickle_decode::run, &input);
    });
}

#[test]
fn regression_inputs_are_there() {
    // The expansion bombs the fuzzer and the memory issue found: the body
    // must see them refused (not decoded and then failing the round trip).
    let inputs = regression_inputs("pickle_decode");
    let names: Vec<&str> = inputs.iter().map(|(n, _)| n.as_str()).collect();
    for want in ["list-chain-22-levels.pickle", "tuple-dup-22-levels.pickle"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let limits = mpcluster_wire::pickle::Limits::default();
    for (name, input) in &inputs {
        if name.contains("22-levels") {
            assert!(
                mpcluster_wire::pickle::decode(input, &limits).is_err(),
                "{name} decodes"
            );
        }
    }
}

#[test]
fn captured_pickles_decode() {
    // The seeds are real CPython pickles: the body must accept them, or the
    // mutation run above would only ever test the error paths.
    let seeds = captured_pickles();
    let limits = mpcluster_wire::pickle::Limits::default();
    let failed: Vec<String> = seeds
        .iter()
        .filter_map(|p| match mpcluster_wire::pickle::decode(p, &limits) {
            Ok(_) => None,
            Err(err) => Some(format!("{err}: {}", hex::encode(p))),
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} captured pickles fail:\n{}",
        failed.len(),
        seeds.len(),
        failed.join("\n")
    );
}
