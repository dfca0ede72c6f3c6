//! The process's open-file limit, raised at start to what the connection
//! caps need.
//!
//! Every connection is a file descriptor, and many systems start a
//! service with a soft limit of 1,024 (systemd's default, a login shell's)
//! under a much higher hard limit. Left there, `--max-connections 20000`
//! would be a promise the server cannot keep: accept fails with `EMFILE`
//! past about a thousand clients. So the server raises its soft limit as
//! far as the hard limit allows (as Go's runtime and Redis do), and says
//! so, or says plainly how many connections it can really hold.
//!
//! `--max-connections` defaults to what the hard limit leaves room for
//! ([`default_max_connections`]), so a default start fits any host and
//! only a cap the operator set above the host's limit draws a warning.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tracing::warn;

/// How long [`SpareFd::turn_away`] waits for the client it turns away.
pub const REFUSE_WAIT: Duration = Duration::from_millis(50);

/// Pause of an accept loop after an accept failed for no client's fault
/// (no spare descriptor left, say), so a failure that repeats does not spin.
pub const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// Descriptors besides connections, with room to spare: standard streams,
/// listeners, the runtime's epoll and wake-up descriptors, the signal
/// pipe, the spare descriptor, the config file, `/proc` reads (about 12
/// measured at rest).
pub const SPARE: u64 = 32;

/// `--admin-max-connections`' default, which the default data cap leaves
/// room for.
pub const DEFAULT_ADMIN_CONNECTIONS: u64 = 256;

/// The highest default cap, for a host whose hard limit is unlimited or
/// huge: Linux's default `fs.nr_open`, the most descriptors a process may
/// have unless the administrator raised it.
pub const DEFAULT_CAP: u64 = 1 << 20;

/// The default `--max-connections`: every descriptor the host's hard
/// open-file limit allows, less [`SPARE`] and the admin port's default
/// cap (on a host too small for both, half of what is left). Read once
/// when the flags are parsed; 1,024 is assumed if the limit cannot be read.
pub fn default_max_connections() -> usize {
    let hard = rlimit::Resource::NOFILE
        .get()
        .map_or(1024, |(_, hard)| hard);
    default_for_hard_limit(hard)
}

/// [`default_max_connections`] for a given hard limit.
pub fn default_for_hard_limit(hard: u64) -> usize {
    let room = hard.min(DEFAULT_CAP).saturating_sub(SPARE);
    let conns = room
        .saturating_sub(DEFAULT_ADMIN_CONNECTIONS)
        .max(room / 2)
        .max(1);
    usize::try_from(conns).unwrap_or(usize::MAX)
}

/// What the limit was, is now, and would need to be, and the hard limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdLimit {
    pub before: u64,
    pub now: u64,
    pub needed: u64,
    pub hard: u64,
}

impl FdLimit {
    /// Connections the limit leaves room for (all of them when it is
    /// enough).
    pub fn connections(&self) -> u64 {
        self.now.saturating_sub(SPARE)
    }

    /// Whether the connection caps fit under the limit.
    pub fn enough(&self) -> bool {
        self.now >= self.needed
    }
}

/// Descriptors the configured caps need: every data and admin connection
/// open at once, plus [`SPARE`].
pub fn needed(max_connections: usize, admin_max_connections: usize) -> u64 {
    let conns = max_connections.saturating_add(admin_max_connections) as u64;
    conns.saturating_add(SPARE)
}

/// Raises the soft `RLIMIT_NOFILE` towards `needed` (never above the hard
/// limit, never lowering it).
pub fn raise(needed: u64) -> io::Result<FdLimit> {
    let (before, hard) = rlimit::Resource::NOFILE.get()?;
    let now = rlimit::increase_nofile_limit(needed)?.max(before);
    Ok(FdLimit {
        before,
        now,
        needed,
        hard,
    })
}

/// Whether an `accept` failed for want of a file descriptor.
pub fn out_of_fds(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// One descriptor held back for the moment the process runs out.
///
/// A connection the server cannot accept waits in the kernel's backlog,
/// and a CPython client, whose `Client()` has no timeout, waits with it
/// until some descriptor is freed, maybe forever. With this one released,
/// the server accepts the first waiting client and closes it at once: the
/// client gets a closed connection it can report (`EOFError`), as past
/// `--max-connections`. (The technique of libuv and nginx.)
pub struct SpareFd(Option<std::fs::File>);

impl SpareFd {
    pub fn new() -> Self {
        SpareFd(std::fs::File::open("/dev/null").ok())
    }

    /// Frees the spare descriptor; false when there was none to free.
    pub fn release(&mut self) -> bool {
        self.0.take().is_some()
    }

    /// Takes a descriptor back (it may fail while the process is still
    /// out of them; the next `release` then has nothing to give).
    pub fn restore(&mut self) {
        if self.0.is_none() {
            self.0 = std::fs::File::open("/dev/null").ok();
        }
    }
}

/// What [`SpareFd::turn_away`] did.
#[derive(Debug)]
pub enum TurnedAway {
    /// This client was accepted and closed at once.
    Client(SocketAddr),
    /// Nobody was waiting (or the accept failed again).
    Nobody,
    /// There was no spare descriptor to free: wait for one to be closed.
    NoSpare,
}

impl SpareFd {
    /// After an accept on `listener` failed for want of a descriptor:
    /// frees the spare one, accepts the first waiting client (waiting at
    /// most [`REFUSE_WAIT`]) and closes it, then takes the descriptor back.
    pub async fn turn_away(&mut self, listener: &TcpListener) -> TurnedAway {
        if !self.release() {
            return TurnedAway::NoSpare;
        }
        let first = tokio::time::timeout(REFUSE_WAIT, listener.accept()).await;
        // The accepted stream is closed here, before the spare is taken
        // back: it holds the one descriptor the restore needs.
        let turned = match first {
            Ok(Ok((_stream, peer))) => TurnedAway::Client(peer),
            _ => TurnedAway::Nobody,
        };
        self.restore();
        turned
    }
}

/// What an accept loop does after `accept` failed: out of descriptors, it
/// turns away the first waiting client ([`SpareFd::turn_away`]); for any
/// other failure, or with no spare left, it logs and pauses so that a
/// failure that repeats does not spin. `label` prefixes the log lines
/// (`"admin "` for the admin listener).
pub async fn on_accept_error(
    spare: &mut SpareFd,
    listener: &TcpListener,
    e: io::Error,
    label: &str,
) {
    if out_of_fds(&e) {
        match spare.turn_away(listener).await {
            TurnedAway::Client(peer) => {
                warn!(%peer, "{label}connection refused: out of file descriptors (see the open-file limit at start)");
                return;
            }
            TurnedAway::Nobody => return,
            TurnedAway::NoSpare => {}
        }
    }
    warn!(error = %e, "{label}accept failed");
    tokio::time::sleep(ACCEPT_RETRY).await;
}

impl Default for SpareFd {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_fds_is_emfile_or_enfile() {
        assert!(out_of_fds(&io::Error::from_raw_os_error(libc::EMFILE)));
        assert!(out_of_fds(&io::Error::from_raw_os_error(libc::ENFILE)));
        assert!(!out_of_fds(&io::Error::from_raw_os_error(
            libc::ECONNABORTED
        )));
        assert!(!out_of_fds(&io::Error::other("x")));
    }

    #[test]
    fn the_spare_descriptor_is_released_once_and_restored() {
        let mut spare = SpareFd::new();
        assert!(spare.release());
        assert!(!spare.release(), "nothing left to free");
        spare.restore();
        assert!(spare.release());
    }

    /// The waiting client is accepted and closed, the spare comes back;
    /// without a spare nothing is accepted.
    #[tokio::test]
    async fn turning_away_closes_the_waiting_client() {
        use tokio::io::AsyncReadExt;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut spare = SpareFd::new();
        match spare.turn_away(&listener).await {
            TurnedAway::Client(peer) => assert_eq!(peer, client.local_addr().unwrap()),
            other => panic!("{other:?}"),
        }
        let mut byte = [0u8; 1];
        assert_eq!(client.read(&mut byte).await.unwrap(), 0, "closed");
        assert!(matches!(
            spare.turn_away(&listener).await,
            TurnedAway::Nobody
        ));
        assert!(spare.release(), "the spare was taken back");
        let _waiting = tokio::net::TcpStream::connect(addr).await.unwrap();
        assert!(matches!(
            spare.turn_away(&listener).await,
            TurnedAway::NoSpare
        ));
    }

    #[test]
    fn needed_counts_both_ports_and_the_spare() {
        assert_eq!(needed(20_000, 256), 20_288);
        assert_eq!(needed(1, 0), 1 + SPARE);
        assert_eq!(needed(usize::MAX, usize::MAX), u64::MAX);
    }

    #[test]
    fn connections_left_by_a_limit() {
        let short = FdLimit {
            before: 1024,
            now: 20_000,
            needed: 20_320,
            hard: 20_000,
        };
        assert!(!short.enough());
        assert_eq!(short.connections(), 20_000 - SPARE);
        let fine = FdLimit {
            now: 20_320,
            ..short
        };
        assert!(fine.enough());
    }

    /// The default fills the hard limit exactly: its data and admin caps
    /// plus the spare descriptors need no more than the host allows (the
    /// common hard limit of 20,000 gave a warning on every start when the
    /// default was a fixed 20,000).
    #[test]
    fn the_default_cap_fits_the_hard_limit() {
        for hard in [20_000, 1_024, 4_096, 65_536, 524_288, 1 << 20] {
            let conns = default_for_hard_limit(hard);
            let need = needed(conns, DEFAULT_ADMIN_CONNECTIONS as usize);
            assert_eq!(need, hard, "hard {hard}: {conns} connections");
        }
        assert_eq!(default_for_hard_limit(20_000), 19_712);
        // Unlimited (RLIM_INFINITY) or above Linux's nr_open: capped.
        assert_eq!(default_for_hard_limit(u64::MAX), (1 << 20) - 32 - 256);
        // A host too small for both caps keeps half for clients.
        assert_eq!(default_for_hard_limit(288), 128);
        assert_eq!(default_for_hard_limit(64), 16);
        assert_eq!(default_for_hard_limit(0), 1);
        let (_, hard) = rlimit::Resource::NOFILE.get().unwrap();
        assert_eq!(default_max_connections(), default_for_hard_limit(hard));
    }

    /// Runs in the test process: the soft limit only ever goes up, and
    /// never past the hard limit.
    #[test]
    fn raising_never_lowers_nor_passes_the_hard_limit() {
        let (soft, hard) = rlimit::Resource::NOFILE.get().unwrap();
        let got = raise(1).unwrap();
        assert_eq!(got.before, soft);
        assert!(got.now >= soft);
        let got = raise(u64::MAX).unwrap();
        assert!(got.now <= hard.max(soft), "{got:?} hard {hard}");
        assert_eq!(rlimit::Resource::NOFILE.get().unwrap().0, got.now);
    }
}
