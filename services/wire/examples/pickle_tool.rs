//! `pickle_tool`: the pickle codec as a filter, for the CPython tests.
//!
//! Reads pickles from stdin, each preceded by its length as a 4-byte
//! big-endian unsigned integer, and answers each on stdout the same way:
//! the value re-encoded by `mpcluster_wire::pickle::encode_protocol`, or,
//! when decoding fails, a message starting with `ERR ` (a pickle we write
//! always starts with the `PROTO` byte 0x80, so the two cannot be confused).
//! It stops at end of input. `tests/python/_pickle_tool.py` drives it.
//!
//! Options: `--protocol N` (4 or 5, default 4), `--max-depth N`,
//! `--max-values N`, `--max-len N` (the decoder's limits; defaults as
//! `Limits::default()`).

use mpcluster_wire::pickle::{decode, encode_protocol, Limits, DEFAULT_PROTOCOL};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::process::ExitCode;

/// Requests larger than this are answered with an error without being read
/// into memory (the rest of the request is skipped).
const MAX_REQUEST: u64 = 1 << 30;

struct Options {
    protocol: u8,
    limits: Limits,
}

fn parse_args() -> Result<Options, String> {
    let mut opts = Options {
        protocol: DEFAULT_PROTOCOL,
        limits: Limits::default(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let n: usize = value
            .parse()
            .map_err(|_| format!("{flag}: not a number: {value}"))?;
        match flag.as_str() {
            "--protocol" => {
                opts.protocol = u8::try_from(n).map_err(|_| "--protocol: too large".to_string())?
            }
            "--max-depth" => opts.limits.max_depth = n,
            "--max-values" => opts.limits.max_values = n,
            "--max-len" => opts.limits.max_len = n,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(opts)
}

fn reply(out: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len()).map_err(|_| io::Error::other("reply over 4 GiB"))?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(payload)?;
    out.flush()
}

fn serve(opts: &Options) -> io::Result<()> {
    let mut input = BufReader::new(io::stdin().lock());
    let mut out = BufWriter::new(io::stdout().lock());
    loop {
        let mut header = [0u8; 4];
        match input.read_exact(&mut header) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let len = u64::from(u32::from_be_bytes(header));
        if len > MAX_REQUEST {
            io::copy(&mut (&mut input).take(len), &mut io::sink())?;
            reply(
                &mut out,
                format!("ERR request of {len} bytes is too large").as_bytes(),
            )?;
            continue;
        }
        let mut data = Vec::new();
        (&mut input).take(len).read_to_end(&mut data)?;
        if data.len() as u64 != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "request cut short",
            ));
        }
        match decode(&data, &opts.limits) {
            Ok(v) => reply(&mut out, &encode_protocol(&v, opts.protocol))?,
            Err(e) => reply(&mut out, format!("ERR {e}").as_bytes())?,
        }
    }
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("pickle_tool: {e}");
            return ExitCode::from(2);
        }
    };
    match serve(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pickle_tool: {e}");
            ExitCode::FAILURE
        }
    }
}
