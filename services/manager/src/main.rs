//! `mpcluster-manager`: parses the configuration, resolves the authkey,
//! starts the server and its admin surface and stops both on Ctrl-C or
//! SIGTERM.

use clap::{CommandFactory, FromArgMatches};
use mpcluster_manager::admin::Admin;
use mpcluster_manager::config::Config;
use mpcluster_manager::fdlimit;
use mpcluster_manager::memory::{self, CountingAlloc};
use mpcluster_manager::server::Server;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// Every request allocates a few short-lived values on one worker and may
/// free them on another; glibc's malloc spent a sixth of the server's CPU
/// on that (arena locks, consolidation) in the benchmark's profiles.
///
/// The counting wrapper keeps the total `--max-memory` is checked against
/// (`memory.rs`): one relaxed atomic add per allocation.
#[global_allocator]
static GLOBAL: CountingAlloc<mimalloc::MiMalloc> = CountingAlloc(mimalloc::MiMalloc);

fn main() -> ExitCode {
    memory::installed();
    memory::configure_allocator();
    let config = parse_config();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&config.log)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour only for a terminal: `docker compose logs` and files stay plain.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let authkey = match mpcluster_manager::authkey::resolve(&config) {
        Ok(k) => k,
        Err(e) => {
            error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    raise_fd_limit(&config);
    let workers = config.workers.map_or_else(default_workers, usize::from);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let shutdown = CancellationToken::new();
        let server = match Server::bind(&config, authkey, shutdown.clone()).await {
            Ok(s) => s,
            Err(e) => {
                error!("{e}");
                return ExitCode::FAILURE;
            }
        };
        // The admin surface binds before the data port starts serving, so a
        // bad admin setting (exposed without a token, port taken) stops the
        // start with a clear error instead of a half-working manager.
        let admin = match Admin::from_config(&config, server.shared()).await {
            Ok(a) => a,
            Err(e) => {
                error!("{e}");
                return ExitCode::FAILURE;
            }
        };
        info!(workers, version = VERSION, "serving threads");
        tokio::spawn(stop_on_signal(shutdown.clone()));
        tokio::spawn(memory::give_back_freed(shutdown.clone()));
        let admin = admin.map(|a| tokio::spawn(a.run()));
        // The accept loop runs on a runtime worker, not on this thread, so
        // handing a new socket to its task needs no cross-thread wake-up.
        if let Err(e) = tokio::spawn(server.run()).await {
            error!("the server task failed: {e}");
        }
        if let Some(admin) = admin {
            // Same signal: the admin listener is already finishing its
            // requests in flight; give it a moment, not forever.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), admin).await;
        }
        info!("manager stopped");
        ExitCode::SUCCESS
    })
}

/// One serving thread per CPU this process may use, less one, and at least
/// one. A manager usually shares its host with the processes that use it
/// (the compose deployment, a pool on one machine): on a 2-core host with
/// 50 client connections, one worker served 12-35 % more unpipelined
/// requests than two (three runs); two wake each other to steal work and
/// compete with the clients for the cores (docs/performance-native.md).
/// `--workers` overrides it.
fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .saturating_sub(1)
        .max(1)
}

/// `--version`: the crate version and the git commit it was built from
/// (`build.rs`; `unknown` outside a git checkout).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("MPCLUSTER_GIT_COMMIT"),
    ")"
);

/// The flags, with [`VERSION`] for `--version` (clap's own would name the
/// crate version only).
fn parse_config() -> Config {
    let matches = Config::command().version(VERSION).get_matches();
    Config::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// Raises the open-file limit to what `--max-connections` and
/// `--admin-max-connections` need, as far as the hard limit allows, and
/// says what the server can hold (`fdlimit.rs`). The default caps fit the
/// hard limit by construction; only caps the operator raised past it draw
/// a warning.
fn raise_fd_limit(config: &Config) {
    let admin = if config.no_admin {
        0
    } else {
        config.admin_max_connections as usize
    };
    let needed = fdlimit::needed(config.max_connections, admin);
    let limit = match fdlimit::raise(needed) {
        Ok(limit) => limit,
        Err(e) => {
            warn!(error = %e, "cannot read or raise the open-file limit");
            return;
        }
    };
    if limit.now > limit.before {
        info!(
            from = limit.before,
            to = limit.now,
            "open-file limit raised"
        );
    }
    info!(
        max_connections = config.max_connections,
        admin_max_connections = admin,
        hard_limit = limit.hard,
        "connection caps (the --max-connections default follows the hard open-file limit)"
    );
    if limit.enough() {
        return;
    }
    let asked = config.max_connections != fdlimit::default_max_connections()
        || admin as u64 > fdlimit::DEFAULT_ADMIN_CONNECTIONS;
    let room = limit.connections();
    if asked {
        warn!(
            limit = limit.now,
            needed,
            "the open-file limit leaves room for about {room} connections, fewer than \
             --max-connections {} and --admin-max-connections {admin} ask for: connections \
             past it fail at accept; raise the hard limit (ulimit -Hn, docker's --ulimit \
             nofile=N) or lower the caps",
            config.max_connections,
        );
    } else {
        // Only a host whose hard limit cannot even hold the default admin
        // cap gets here: the defaults are the best it allows.
        info!(
            limit = limit.now,
            "the open-file limit leaves room for about {room} connections in all"
        );
    }
}

/// Ctrl-C and SIGTERM both cancel the one shutdown token.
async fn stop_on_signal(shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            shutdown.cancel();
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
            _ = shutdown.cancelled() => return,
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    info!("signal received, stopping");
    shutdown.cancel();
}
