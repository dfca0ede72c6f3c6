//! Admin access control: the admin token, where it comes from, and the two
//! gates that check it (an axum middleware for HTTP, a tonic interceptor for
//! gRPC).
//!
//! The token is separate from the authkey (which lets a peer run methods,
//! and by CPython's design unpickle what it likes on a CPython server): an
//! operator who may look at objects need not be able to act as a client.
//! It comes from `--admin-token`/`MPCLUSTER_ADMIN_TOKEN` or
//! `--admin-token-file`; when neither is given one is generated and printed
//! once on stdout, like the authkey. A non-loopback admin address with no
//! configured token is refused at start: nobody but the terminal that
//! started the manager would know the generated one, yet the port would be
//! open to the network. Tokens are compared in constant time (through a
//! SHA-256 digest, so the length does not leak either) and never logged.

use crate::config::Config;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TokenError {
    #[error("give the admin token once: --admin-token/MPCLUSTER_ADMIN_TOKEN or --admin-token-file, not both")]
    Both,
    #[error("cannot read the admin token file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("the admin token is empty")]
    Empty,
    #[error(
        "the admin surface would listen on {0}, which is not a loopback address, \
         without a configured token: set MPCLUSTER_ADMIN_TOKEN or --admin-token-file \
         (or bind it to 127.0.0.1, or pass --no-admin)"
    )]
    Exposed(SocketAddr),
}

/// The secret admin requests must present. `Debug` never shows it.
#[derive(Clone)]
pub struct AdminToken {
    digest: [u8; 32],
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

impl AdminToken {
    pub fn new(secret: &[u8]) -> Result<AdminToken, TokenError> {
        if secret.is_empty() {
            return Err(TokenError::Empty);
        }
        Ok(AdminToken {
            digest: Sha256::digest(secret).into(),
        })
    }

    /// Whether `presented` is the token, in time independent of both.
    pub fn matches(&self, presented: &[u8]) -> bool {
        let d: [u8; 32] = Sha256::digest(presented).into();
        bool::from(self.digest.ct_eq(&d))
    }

    /// Checks an `Authorization` header (HTTP) or `authorization` metadata
    /// value (gRPC): `Bearer <token>`, the scheme case-insensitive as RFC
    /// 7235 has it.
    pub fn check_bearer(&self, value: Option<&[u8]>) -> bool {
        let Some(v) = value else { return false };
        let Some((scheme, rest)) = split_scheme(v) else {
            return false;
        };
        scheme.eq_ignore_ascii_case(b"bearer") && self.matches(trim(rest))
    }
}

fn split_scheme(v: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = v.iter().position(|b| *b == b' ')?;
    Some((&v[..i], &v[i + 1..]))
}

fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// Resolves the admin token from the configuration, generating (and
/// printing) one when none is configured and the admin address is loopback.
///
/// An empty `MPCLUSTER_ADMIN_TOKEN` counts as unset, as compose files and
/// shells produce one from an undefined variable (`${TOKEN:-}`).
pub fn resolve(config: &Config, bind: SocketAddr) -> Result<AdminToken, TokenError> {
    let given = config.admin_token.as_deref().filter(|t| !t.is_empty());
    match (given, &config.admin_token_file) {
        (Some(_), Some(_)) => Err(TokenError::Both),
        (Some(t), None) => AdminToken::new(t.as_bytes()),
        (None, Some(path)) => {
            let mut bytes = std::fs::read(path).map_err(|source| TokenError::File {
                path: path.display().to_string(),
                source,
            })?;
            while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                bytes.pop();
            }
            AdminToken::new(&bytes)
        }
        (None, None) => {
            if !bind.ip().is_loopback() {
                return Err(TokenError::Exposed(bind));
            }
            let token = generate();
            // Printed once, on stdout, for the operator (never to the log).
            println!("mpcluster-manager: admin token (generated for this run): {token}");
            AdminToken::new(token.as_bytes())
        }
    }
}

/// 24 random bytes as 48 hex characters.
fn generate() -> String {
    let mut raw = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut raw);
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

/// The axum middleware in front of every protected route.
pub async fn require_token(
    State(token): State<Arc<AdminToken>>,
    req: Request,
    next: Next,
) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if token.check_bearer(presented) {
        return next.run(req).await;
    }
    let mut resp = super::http::error(
        StatusCode::UNAUTHORIZED,
        "missing or wrong admin token: send 'Authorization: Bearer <token>'",
    )
    .into_response();
    resp.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    resp
}

/// The tonic interceptor in front of every gRPC call.
#[derive(Clone)]
pub struct TokenInterceptor(pub Arc<AdminToken>);

impl tonic::service::Interceptor for TokenInterceptor {
    fn call(&mut self, req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let presented = req.metadata().get("authorization").map(|v| v.as_bytes());
        if self.0.check_bearer(presented) {
            Ok(req)
        } else {
            Err(tonic::Status::unauthenticated(
                "missing or wrong admin token: send 'authorization: Bearer <token>' metadata",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn bearer_checks() {
        let t = AdminToken::new(b"s3cret").unwrap();
        assert!(t.check_bearer(Some(b"Bearer s3cret")));
        assert!(t.check_bearer(Some(b"bearer  s3cret ")));
        assert!(!t.check_bearer(Some(b"Bearer s3cre")));
        assert!(!t.check_bearer(Some(b"Bearer s3crett")));
        assert!(!t.check_bearer(Some(b"Basic s3cret")));
        assert!(!t.check_bearer(Some(b"s3cret")));
        assert!(!t.check_bearer(Some(b"")));
        assert!(!t.check_bearer(None));
        assert!(AdminToken::new(b"").is_err());
        assert_eq!(format!("{t:?}"), "AdminToken(<redacted>)");
    }

    fn config(args: &[&str]) -> Config {
        let mut argv = vec!["mpcluster-manager"];
        argv.extend_from_slice(args);
        Config::try_parse_from(argv).unwrap()
    }

    #[test]
    fn non_loopback_needs_a_configured_token() {
        let open: SocketAddr = "0.0.0.0:50080".parse().unwrap();
        let c = config(&[]);
        if c.admin_token.is_none() && c.admin_token_file.is_none() {
            assert!(matches!(resolve(&c, open), Err(TokenError::Exposed(_))));
        }
        let c = config(&["--admin-token", ""]);
        assert!(matches!(resolve(&c, open), Err(TokenError::Exposed(_))));
        let c = config(&["--admin-token", "abc"]);
        let t = resolve(&c, open).unwrap();
        assert!(t.matches(b"abc"));
    }

    #[test]
    fn token_file_and_conflicts() {
        let dir = std::env::temp_dir().join(format!("mpc-admin-token-{}", std::process::id()));
        std::fs::write(&dir, "from-file\n").unwrap();
        let path = dir.to_str().unwrap();
        let lo: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let t = resolve(&config(&["--admin-token-file", path]), lo).unwrap();
        assert!(t.matches(b"from-file"));
        assert!(matches!(
            resolve(
                &config(&["--admin-token-file", path, "--admin-token", "x"]),
                lo
            ),
            Err(TokenError::Both)
        ));
        std::fs::remove_file(&dir).unwrap();
    }
}
