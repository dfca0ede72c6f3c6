//! `wire_peer`: a tiny TCP peer built on the wire crate, for interop tests
//! with unmodified CPython (`tests/python/test_handshake.py`).
//!
//! `wire_peer server [--host H] [--port P] --authkey-hex HEX
//! [--handshake-timeout SECS] [--max-frame N] [--refuse-md5]` listens, prints
//! `LISTENING <port>`, runs our server handshake on every connection and then
//! echoes each frame back unchanged until the peer closes. Per connection it
//! prints `CONN <n> AUTH_OK <scheme>` or `CONN <n> AUTH_FAIL <kind> <reason>`,
//! then `CONN <n> ECHO <len>` per frame and `CONN <n> CLOSED <how>`.
//!
//! `wire_peer client [--host H] --port P --authkey-hex HEX --send-len N
//! [--refuse-md5]` connects to a CPython `Listener`, runs our client
//! handshake, sends one frame of N bytes, reads one frame back and prints
//! `AUTH_OK <scheme>` and `RECV <len> ECHO_OK|DIFFERENT` (or `AUTH_FAIL ...`
//! and exits 1).
//!
//! Arguments are parsed by hand so the example needs nothing beyond std,
//! tokio and the wire crate.

use std::process::ExitCode;
use std::time::Duration;

use bytes::BytesMut;
use mpcluster_wire::handshake::AuthPolicy;
use mpcluster_wire::io::{
    client_handshake, read_frame, server_handshake, write_frame, HandshakeError,
};
use tokio::net::{TcpListener, TcpStream};

const USAGE: &str = "usage: wire_peer server [--host H] [--port P] --authkey-hex HEX \
[--handshake-timeout SECS] [--max-frame N] [--refuse-md5]\n\
       wire_peer client [--host H] --port P --authkey-hex HEX --send-len N [--refuse-md5]";

#[derive(Debug, Clone)]
struct Options {
    host: String,
    port: u16,
    authkey: Vec<u8>,
    policy: AuthPolicy,
    handshake_timeout: Duration,
    max_frame: usize,
    send_len: usize,
}

fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err("authkey hex has an odd length".into());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| format!("bad hex near offset {i}"))
        })
        .collect()
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut opts = Options {
        host: "127.0.0.1".into(),
        port: 0,
        authkey: Vec::new(),
        policy: AuthPolicy::default(),
        handshake_timeout: Duration::from_secs(10),
        max_frame: 64 << 20,
        send_len: 0,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--refuse-md5" {
            opts.policy.refuse_md5 = true;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--host" => opts.host = value.clone(),
            "--port" => opts.port = value.parse().map_err(|e| bad(&e))?,
            "--authkey-hex" => opts.authkey = parse_hex(value)?,
            "--handshake-timeout" => {
                let secs: f64 = value.parse().map_err(|e| bad(&e))?;
                opts.handshake_timeout = Duration::try_from_secs_f64(secs).map_err(|e| bad(&e))?;
            }
            "--max-frame" => opts.max_frame = value.parse().map_err(|e| bad(&e))?,
            "--send-len" => opts.send_len = value.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(opts)
}

/// `kind reason` for the `AUTH_FAIL` line.
fn describe(err: &HandshakeError) -> String {
    let kind = match err {
        HandshakeError::Timeout(_) => "timeout",
        HandshakeError::Auth(_) => "auth",
        HandshakeError::Frame(_) => "frame",
        HandshakeError::Closed => "closed",
    };
    format!("{kind} {err}")
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

async fn serve(opts: Options) -> std::io::Result<()> {
    let listener = TcpListener::bind((opts.host.as_str(), opts.port)).await?;
    println!("LISTENING {}", listener.local_addr()?.port());
    let mut next_id = 0u64;
    loop {
        let (stream, _) = listener.accept().await?;
        next_id += 1;
        tokio::spawn(connection(next_id, stream, opts.clone()));
    }
}

async fn connection(id: u64, mut stream: TcpStream, opts: Options) {
    // Small handshake frames must not wait on Nagle (spec 2.2a).
    let _ = stream.set_nodelay(true);
    match server_handshake(
        &mut stream,
        &opts.authkey,
        &opts.policy,
        opts.handshake_timeout,
    )
    .await
    {
        Ok(info) => println!("CONN {id} AUTH_OK {info}"),
        Err(err) => {
            println!("CONN {id} AUTH_FAIL {}", describe(&err));
            return;
        }
    }
    let mut buf = BytesMut::new();
    loop {
        match read_frame(&mut stream, opts.max_frame, &mut buf).await {
            Ok(Some(frame)) => {
                println!("CONN {id} ECHO {}", frame.len());
                if let Err(err) = write_frame(&mut stream, &frame).await {
                    println!("CONN {id} CLOSED error {err}");
                    return;
                }
            }
            Ok(None) => {
                println!("CONN {id} CLOSED clean");
                return;
            }
            Err(err) => {
                println!("CONN {id} CLOSED error {err}");
                return;
            }
        }
    }
}

async fn client(opts: Options) -> Result<bool, String> {
    let mut stream = TcpStream::connect((opts.host.as_str(), opts.port))
        .await
        .map_err(|e| format!("CONNECT_FAIL {e}"))?;
    let _ = stream.set_nodelay(true);
    match client_handshake(
        &mut stream,
        &opts.authkey,
        &opts.policy,
        opts.handshake_timeout,
    )
    .await
    {
        Ok(info) => println!("AUTH_OK {info}"),
        Err(err) => {
            println!("AUTH_FAIL {}", describe(&err));
            return Ok(false);
        }
    }
    let payload = pattern(opts.send_len);
    write_frame(&mut stream, &payload)
        .await
        .map_err(|e| format!("SEND_FAIL {e}"))?;
    let mut buf = BytesMut::new();
    match read_frame(&mut stream, opts.max_frame, &mut buf).await {
        Ok(Some(frame)) => {
            let verdict = if frame[..] == payload[..] {
                "ECHO_OK"
            } else {
                "DIFFERENT"
            };
            println!("RECV {} {verdict}", frame.len());
            Ok(true)
        }
        Ok(None) => Err("RECV_FAIL closed".into()),
        Err(err) => Err(format!("RECV_FAIL {err}")),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((mode, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let opts = match parse(rest) {
        Ok(opts) => opts,
        Err(err) => {
            eprintln!("{err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match mode.as_str() {
        "server" => match serve(opts).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("server error: {err}");
                ExitCode::FAILURE
            }
        },
        "client" => match client(opts).await {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(line) => {
                println!("{line}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
