//! Where the authkey comes from: `MPCLUSTER_AUTHKEY`/`--authkey`, an
//! `--authkey-file`, or, when neither is given, a generated one printed
//! once on stdout so the operator can hand it to clients. The key is never
//! logged.

use crate::config::Config;
use rand::RngCore;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum AuthkeyError {
    #[error("cannot read the authkey file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("give the authkey once: --authkey/MPCLUSTER_AUTHKEY or --authkey-file, not both")]
    Both,
    #[error("the authkey file {0} is empty")]
    Empty(String),
}

/// The authkey bytes clients must use.
pub fn resolve(config: &Config) -> Result<Vec<u8>, AuthkeyError> {
    // An empty MPCLUSTER_AUTHKEY (a bare `MPCLUSTER_AUTHKEY=` line in an
    // .env file) means "not set", not an empty key anyone could guess.
    let given = config.authkey.as_ref().filter(|k| !k.is_empty());
    match (given, &config.authkey_file) {
        (Some(_), Some(_)) => Err(AuthkeyError::Both),
        (Some(k), None) => Ok(k.as_bytes().to_vec()),
        (None, Some(path)) => {
            let mut bytes = std::fs::read(path).map_err(|source| AuthkeyError::File {
                path: path.display().to_string(),
                source,
            })?;
            while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                bytes.pop();
            }
            if bytes.is_empty() {
                return Err(AuthkeyError::Empty(path.display().to_string()));
            }
            Ok(bytes)
        }
        (None, None) => {
            let key = generate();
            println!(
                "mpcluster-manager: no authkey given; generated one for this run:\n  \
                 MPCLUSTER_AUTHKEY={key}\n  (Python: authkey=b\"{key}\")"
            );
            Ok(key.into_bytes())
        }
    }
}

/// 24 random bytes as 48 hex characters: printable, pasteable, 192 bits.
fn generate() -> String {
    let mut raw = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut raw);
    raw.iter().map(|b| format!("{b:02x}")).collect()
}
