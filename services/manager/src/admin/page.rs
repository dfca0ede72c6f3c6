//! The admin web page: a small read-only browser of objects and
//! connections, served at `/` with its script and stylesheet under
//! `/assets/`. The files are compiled in (`include_str!`), so there is no
//! build step and nothing to install next to the binary.
//!
//! The page itself carries no data and needs no token: its script takes the
//! token from the URL fragment (`/#token=...`, never sent to the server) or
//! a form, and calls the JSON API with an `Authorization` header. A strict
//! Content-Security-Policy keeps the page to its own script, as object
//! previews are client-controlled text.

use super::view::AdminView;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

const INDEX: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page's routes.
pub fn routes() -> Router<Arc<AdminView>> {
    Router::new()
        .route("/", get(index))
        .route("/assets/app.js", get(app_js))
        .route("/assets/style.css", get(style_css))
}

/// The page, with the server's version filled in.
pub fn render_index() -> String {
    INDEX.replace("{{VERSION}}", env!("CARGO_PKG_VERSION"))
}

async fn index() -> impl IntoResponse {
    (
        [
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        Html(render_index()),
    )
}

async fn app_js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        APP_JS,
    )
}

async fn style_css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLE_CSS,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_links_its_assets_and_never_uses_inner_html() {
        let html = render_index();
        assert!(html.contains(env!("CARGO_PKG_VERSION")));
        assert!(!html.contains("{{"));
        assert!(html.contains("/assets/app.js") && html.contains("/assets/style.css"));
        // Previews are client data: the script must only use textContent.
        assert!(!APP_JS.contains("innerHTML"));
        assert!(APP_JS.contains("Authorization"));
    }
}
