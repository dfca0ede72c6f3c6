//! The command line: one `clap` struct with the connection options every
//! subcommand shares (admin URL, token, output format, timeout) and one
//! variant per subcommand. `main.rs` resolves the token and hands the parsed
//! command to `commands.rs`; `mpctl --help` is the reference.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// `mpctl --version`: the crate version and the git commit it was built
/// from (`build.rs`; `unknown` outside a git checkout).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("MPCLUSTER_GIT_COMMIT"),
    ")"
);

#[derive(Parser, Debug)]
#[command(
    name = "mpctl",
    version = VERSION,
    about = "Inspect and manage a running mpcluster manager through its admin API",
    long_about = "Inspect and manage a running mpcluster manager through its admin HTTP API \
                  (objects, client connections, counters, live events).\n\n\
                  The admin token is the manager's MPCLUSTER_ADMIN_TOKEN (or the one it \
                  printed at start when none was configured)."
)]
pub struct Cli {
    /// Base URL of the manager's admin surface.
    #[arg(
        long,
        env = "MPCTL_ADMIN",
        default_value = "http://127.0.0.1:50080",
        global = true
    )]
    pub admin: String,

    /// Admin token. Prefer MPCLUSTER_ADMIN_TOKEN or --token-file: a flag
    /// shows up in `ps`.
    #[arg(
        long,
        env = "MPCLUSTER_ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub token: Option<String>,

    /// File holding the admin token (a trailing newline removed).
    #[arg(long, env = "MPCLUSTER_ADMIN_TOKEN_FILE", global = true)]
    pub token_file: Option<PathBuf>,

    /// Print the API's JSON instead of tables (`watch`: one event per line).
    #[arg(long, global = true)]
    pub json: bool,

    /// Give up on a request after this long (e.g. `10s`, `500ms`); `watch`
    /// only uses it to connect.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration, global = true)]
    pub timeout: Duration,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// List every object the manager holds, oldest first.
    Objects {
        /// Only orphans: referenced objects none of whose users is connected.
        #[arg(long)]
        orphans: bool,
        /// Only objects created as this typeid (`list`, `Queue`, `get_queue`).
        #[arg(long)]
        typeid: Option<String>,
    },
    /// Show one object with a preview of its contents (its `repr()`).
    Inspect {
        /// Object id (first column of `mpctl objects`).
        id: String,
    },
    /// List the open client connections.
    #[command(visible_alias = "connections")]
    Clients,
    /// Show the manager's counters.
    Stats,
    /// Follow live events (objects created and disposed, clients coming and
    /// going, failed handshakes) until the manager stops or Ctrl-C.
    Watch {
        /// Stop after this many events.
        #[arg(long)]
        count: Option<u64>,
    },
    /// Dispose of an object whatever its reference count (clients still
    /// holding a proxy to it will get errors).
    Delete {
        /// Object id.
        id: String,
    },
    /// Close a client connection (a call it is blocked in is cancelled).
    #[command(visible_alias = "drop-connection")]
    DropClient {
        /// Connection id (first column of `mpctl clients`).
        id: u64,
    },
    /// Exit 0 when the manager is serving, 1 otherwise (no token needed;
    /// the container image's health check).
    Health {
        /// Keep asking until the manager serves or this long has passed
        /// (e.g. `30s`), for scripts that start one and go on at once.
        #[arg(long, value_parser = humantime::parse_duration)]
        wait: Option<Duration>,
    },
}

impl Command {
    /// Whether the command's endpoint is behind the admin token
    /// (`/readyz` is open so probes need no secret).
    pub fn needs_token(&self) -> bool {
        !matches!(self, Command::Health { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        let mut argv = vec!["mpctl"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv)
    }

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_go_anywhere() {
        let c = parse(&["objects", "--json", "--admin", "http://h:1", "--orphans"]).unwrap();
        assert!(c.json);
        assert_eq!(c.admin, "http://h:1");
        assert_eq!(
            c.command,
            Command::Objects {
                orphans: true,
                typeid: None
            }
        );
        let c = parse(&["--timeout", "250ms", "drop-connection", "7"]).unwrap();
        assert_eq!(c.timeout, Duration::from_millis(250));
        assert_eq!(c.command, Command::DropClient { id: 7 });
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["drop-client", "abc"]).is_err());
        assert!(parse(&["inspect"]).is_err());
        assert!(parse(&["--timeout", "soon", "stats"]).is_err());
    }

    #[test]
    fn only_health_is_open() {
        assert!(!Command::Health { wait: None }.needs_token());
        assert!(Command::Stats.needs_token());
        assert!(Command::Watch { count: None }.needs_token());
    }
}
