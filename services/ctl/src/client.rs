//! The HTTP side of mpctl: a small blocking client of the manager's admin
//! API (`docs/admin-api.md`). It joins paths onto the base URL, sends the
//! bearer token, turns the API's `{"error": ...}` answers and transport
//! failures into `CtlError`s an operator can act on, and opens the
//! server-sent event stream for `watch` (parsed by `sse.rs`).
//!
//! Answers are returned as parsed JSON (`serde_json::Value`): `--json`
//! prints them as the server sent them, and `render.rs` reads the fields it
//! shows, so a newer manager that adds fields never breaks an older mpctl.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;
use thiserror::Error;

/// Largest JSON answer read: a listing of millions of objects is big, but
/// a misbehaving endpoint must not make mpctl allocate without bound.
const MAX_BODY: u64 = 512 * 1024 * 1024;

#[derive(Debug, Error)]
pub enum CtlError {
    #[error(
        "no admin token: pass --token, set MPCLUSTER_ADMIN_TOKEN, or --token-file \
         (a manager started without one prints a generated token at start)"
    )]
    NoToken,
    #[error("give the admin token once: --token/MPCLUSTER_ADMIN_TOKEN or --token-file, not both")]
    TokenTwice,
    #[error("cannot read the admin token file {path}: {source}")]
    TokenFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the admin token file {0} is empty")]
    TokenEmpty(PathBuf),
    #[error("not an admin URL: {0:?} (expected http://HOST:PORT)")]
    BadUrl(String),
    #[error("cannot reach the admin API at {url}: {source}")]
    Unreachable { url: String, source: ureq::Error },
    #[error(
        "the admin API at {base} refused the token (HTTP 401): check --token, \
         MPCLUSTER_ADMIN_TOKEN or --token-file against the manager's admin token"
    )]
    Unauthorized { base: String },
    #[error("{message} (HTTP {status})")]
    Api { status: u16, message: String },
    #[error("unexpected answer from {url}: {reason}")]
    BadReply { url: String, reason: String },
    #[error("cannot write the output: {0}")]
    Output(#[source] std::io::Error),
}

/// Where the admin API is and how to authenticate to it.
#[derive(Debug, Clone)]
pub struct AdminClient {
    base: String,
    token: Option<String>,
    timeout: Duration,
    agent: ureq::Agent,
}

impl AdminClient {
    /// `base` is `http://host:port` (a bare `host:port` gets `http://`);
    /// a path prefix (a reverse proxy's `/mpcluster`) is kept.
    pub fn new(
        base: &str,
        token: Option<String>,
        timeout: Duration,
    ) -> Result<AdminClient, CtlError> {
        let base = normalise_base(base)?;
        let config = ureq::Agent::config_builder()
            // The API explains its 4xx/5xx answers in the body; keep it.
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .user_agent(concat!("mpctl/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(AdminClient {
            base,
            token,
            timeout,
            agent: config.into(),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn authorization(&self) -> Option<String> {
        self.token.as_ref().map(|t| format!("Bearer {t}"))
    }

    /// `GET path`, the answer's JSON.
    pub fn get(&self, path: &str) -> Result<serde_json::Value, CtlError> {
        let url = self.url(path);
        let mut req = self.agent.get(&url);
        if let Some(auth) = self.authorization() {
            req = req.header("Authorization", auth);
        }
        let resp = req.call().map_err(|source| CtlError::Unreachable {
            url: url.clone(),
            source,
        })?;
        self.json_answer(&url, resp)
    }

    /// `DELETE path`, the answer's JSON.
    pub fn delete(&self, path: &str) -> Result<serde_json::Value, CtlError> {
        let url = self.url(path);
        let mut req = self.agent.delete(&url);
        if let Some(auth) = self.authorization() {
            req = req.header("Authorization", auth);
        }
        let resp = req.call().map_err(|source| CtlError::Unreachable {
            url: url.clone(),
            source,
        })?;
        self.json_answer(&url, resp)
    }

    /// `GET path` of a plain-text endpoint (`/readyz`): status and body.
    pub fn get_text(&self, path: &str) -> Result<(u16, String), CtlError> {
        let url = self.url(path);
        let mut resp = self
            .agent
            .get(&url)
            .call()
            .map_err(|source| CtlError::Unreachable {
                url: url.clone(),
                source,
            })?;
        let status = resp.status().as_u16();
        let body = read_body(&url, &mut resp)?;
        Ok((status, body))
    }

    /// Opens a server-sent event stream; returns once the server answered
    /// (the manager subscribes before answering, so no event after this
    /// returns is missed). The stream has no overall deadline: only
    /// connecting and the answer's headers are bounded by the timeout.
    pub fn stream(&self, path: &str) -> Result<impl Read, CtlError> {
        let url = self.url(path);
        let mut req = self
            .agent
            .get(&url)
            .header("Accept", "text/event-stream")
            .config()
            .timeout_global(None)
            .timeout_connect(Some(self.timeout))
            .timeout_recv_response(Some(self.timeout))
            .build();
        if let Some(auth) = self.authorization() {
            req = req.header("Authorization", auth);
        }
        let mut resp = req.call().map_err(|source| CtlError::Unreachable {
            url: url.clone(),
            source,
        })?;
        let status = resp.status().as_u16();
        if status != 200 {
            let body = read_body(&url, &mut resp)?;
            return Err(self.api_error(status, &body));
        }
        Ok(resp.into_body().into_reader())
    }

    fn json_answer(
        &self,
        url: &str,
        mut resp: ureq::http::Response<ureq::Body>,
    ) -> Result<serde_json::Value, CtlError> {
        let status = resp.status().as_u16();
        let body = read_body(url, &mut resp)?;
        if !(200..300).contains(&status) {
            return Err(self.api_error(status, &body));
        }
        serde_json::from_str(&body).map_err(|e| CtlError::BadReply {
            url: url.to_string(),
            reason: format!("not JSON ({e})"),
        })
    }

    /// A non-2xx answer as an error: 401 gets its own advice; others carry
    /// the API's `{"error": ...}` message (or the raw body of something
    /// that is not the admin API, such as a proxy's error page).
    fn api_error(&self, status: u16, body: &str) -> CtlError {
        if status == 401 {
            return CtlError::Unauthorized {
                base: self.base.clone(),
            };
        }
        let message = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("error")?.as_str().map(str::to_string))
            .unwrap_or_else(|| {
                let text = body.trim();
                if text.is_empty() {
                    "the admin API answered an error".to_string()
                } else {
                    text.chars().take(200).collect()
                }
            });
        CtlError::Api { status, message }
    }
}

fn read_body(url: &str, resp: &mut ureq::http::Response<ureq::Body>) -> Result<String, CtlError> {
    resp.body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_string()
        .map_err(|source| CtlError::Unreachable {
            url: url.to_string(),
            source,
        })
}

/// `http://host:port[/prefix]` without a trailing slash.
fn normalise_base(base: &str) -> Result<String, CtlError> {
    let base = base.trim();
    let with_scheme = if base.contains("://") {
        base.to_string()
    } else {
        format!("http://{base}")
    };
    let rest = with_scheme
        .strip_prefix("http://")
        .or_else(|| with_scheme.strip_prefix("https://"))
        .ok_or_else(|| CtlError::BadUrl(base.to_string()))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || rest.contains(['?', '#']) {
        return Err(CtlError::BadUrl(base.to_string()));
    }
    Ok(with_scheme.trim_end_matches('/').to_string())
}

/// A path segment with everything but RFC 3986's unreserved characters
/// percent-encoded, so an id typed by the operator cannot change the path.
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The token from `--token`/`MPCLUSTER_ADMIN_TOKEN` or `--token-file`, by
/// the manager's own rules (`services/manager/src/admin/auth.rs`): given at
/// most once, an empty variable counts as unset, a file loses its trailing
/// newline.
pub fn resolve_token(token: Option<&str>, file: Option<&Path>) -> Result<Option<String>, CtlError> {
    let token = token.filter(|t| !t.is_empty());
    match (token, file) {
        (Some(_), Some(_)) => Err(CtlError::TokenTwice),
        (Some(t), None) => Ok(Some(t.to_string())),
        (None, Some(path)) => {
            let mut text = std::fs::read_to_string(path).map_err(|source| CtlError::TokenFile {
                path: path.to_owned(),
                source,
            })?;
            while text.ends_with(['\n', '\r']) {
                text.pop();
            }
            if text.is_empty() {
                return Err(CtlError::TokenEmpty(path.to_owned()));
            }
            Ok(Some(text))
        }
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            normalise_base("http://127.0.0.1:50080/").unwrap(),
            "http://127.0.0.1:50080"
        );
        assert_eq!(normalise_base("h:1").unwrap(), "http://h:1");
        assert_eq!(
            normalise_base("https://proxy/mpcluster/").unwrap(),
            "https://proxy/mpcluster"
        );
        assert!(normalise_base("ftp://h:1").is_err());
        assert!(normalise_base("http://").is_err());
        assert!(normalise_base("http://h:1/?x=1").is_err());
    }

    #[test]
    fn segments_cannot_escape_the_path() {
        assert_eq!(segment("6f3a1"), "6f3a1");
        assert_eq!(segment("../stats"), "..%2Fstats");
        assert_eq!(segment("a b?c#d"), "a%20b%3Fc%23d");
        assert_eq!(segment("é"), "%C3%A9");
    }

    #[test]
    fn token_rules() {
        assert_eq!(resolve_token(None, None).unwrap(), None);
        assert_eq!(resolve_token(Some(""), None).unwrap(), None);
        assert_eq!(
            resolve_token(Some("t"), None).unwrap().as_deref(),
            Some("t")
        );
        let path = std::env::temp_dir().join(format!("mpctl-token-{}", std::process::id()));
        std::fs::write(&path, "from-file\r\n").unwrap();
        assert_eq!(
            resolve_token(Some(""), Some(&path)).unwrap().as_deref(),
            Some("from-file")
        );
        assert!(matches!(
            resolve_token(Some("t"), Some(&path)),
            Err(CtlError::TokenTwice)
        ));
        std::fs::write(&path, "\n").unwrap();
        assert!(matches!(
            resolve_token(None, Some(&path)),
            Err(CtlError::TokenEmpty(_))
        ));
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(
            resolve_token(None, Some(&path)),
            Err(CtlError::TokenFile { .. })
        ));
    }

    #[test]
    fn api_errors_carry_the_server_message() {
        let c = AdminClient::new("http://h:1", None, Duration::from_secs(1)).unwrap();
        match c.api_error(404, r#"{"error":"no object with id \"x\""}"#) {
            CtlError::Api { status, message } => {
                assert_eq!(status, 404);
                assert_eq!(message, "no object with id \"x\"");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            c.api_error(401, "{}"),
            CtlError::Unauthorized { .. }
        ));
        match c.api_error(502, "<html>Bad gateway</html>\n") {
            CtlError::Api { message, .. } => assert_eq!(message, "<html>Bad gateway</html>"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
