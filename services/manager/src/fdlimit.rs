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

use std::io;

/// Descriptors besides connections: listeners, the runtime's epoll and
/// wake-up descriptors, the log, the config file, `/proc` reads.
pub const SPARE: u64 = 64;

/// What the limit was, is now, and would need to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdLimit {
    pub before: u64,
    pub now: u64,
    pub needed: u64,
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
    let (before, _hard) = rlimit::Resource::NOFILE.get()?;
    let now = rlimit::increase_nofile_limit(needed)?.max(before);
    Ok(FdLimit {
        before,
        now,
        needed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needed_counts_both_ports_and_the_spare() {
        assert_eq!(needed(20_000, 256), 20_320);
        assert_eq!(needed(1, 0), 1 + SPARE);
        assert_eq!(needed(usize::MAX, usize::MAX), u64::MAX);
    }

    #[test]
    fn connections_left_by_a_limit() {
        let short = FdLimit {
            before: 1024,
            now: 20_000,
            needed: 20_320,
        };
        assert!(!short.enough());
        assert_eq!(short.connections(), 20_000 - SPARE);
        let fine = FdLimit {
            now: 20_320,
            ..short
        };
        assert!(fine.enough());
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
