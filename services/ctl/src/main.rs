//! `mpctl`, the admin command line of an mpcluster manager: parses the
//! command (`cli.rs`), resolves the admin token, runs the command against
//! the manager's admin HTTP API (`commands.rs` over `client.rs`) and maps
//! the outcome to an exit status: 0 done, 1 failed (message on stderr),
//! 2 bad usage (clap's own).

mod cli;
mod client;
mod commands;
mod render;
mod sse;
mod table;

use clap::Parser;
use client::{AdminClient, CtlError};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        // `mpctl objects | head`: the reader went away, which is not a
        // failure of the command.
        Err(CtlError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mpctl: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &cli::Cli) -> Result<(), CtlError> {
    // The health check needs no token, so a token setting it cannot use
    // (an unreadable file in a container's environment) must not fail it.
    let token = if cli.command.needs_token() {
        let token = client::resolve_token(cli.token.as_deref(), cli.token_file.as_deref())?;
        // Refused before any request: "no token given" is clearer than
        // the 401 the API would answer.
        Some(token.ok_or(CtlError::NoToken)?)
    } else {
        None
    };
    let client = AdminClient::new(&cli.admin, token, cli.timeout)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    commands::run(&client, &cli.command, cli.json, &mut out)
}
