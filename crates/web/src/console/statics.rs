//! The console's static files, built into the binary: htmx and its SSE extension
//! (vendored, checksums in `static/SHA256SUMS`), the style sheet and a little script.
//! Served with long cache headers; a new build changes the `?v=` in the layout.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use drover_engine::Engine;

/// Name, content type, bytes.
const FILES: &[(&str, &str, &[u8])] = &[
    ("htmx.min.js", "text/javascript; charset=utf-8", include_bytes!("../../static/htmx.min.js")),
    ("htmx-ext-sse.min.js", "text/javascript; charset=utf-8", include_bytes!("../../static/htmx-ext-sse.min.js")),
    ("console.css", "text/css; charset=utf-8", include_bytes!("../../static/console.css")),
    ("console.js", "text/javascript; charset=utf-8", include_bytes!("../../static/console.js")),
];

pub(super) fn routes() -> Router<Engine> {
    Router::new().route("/static/{file}", get(file))
}

async fn file(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, bytes)) => {
            ([(header::CONTENT_TYPE, *kind), (header::CACHE_CONTROL, "public, max-age=31536000, immutable")], *bytes)
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}
