//! The dashboard's static files, embedded in the binary from `web-ui/dist` (built by
//! `scripts/build-web-ui.sh`). Paths that are not files get `index.html`, so the
//! dashboard's client-side routes (`/cluster`, `/jobs/…`) load on a direct visit.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../web-ui/dist"]
#[allow_missing = true]
struct Assets;

const MISSING_UI: &str = "<!doctype html><title>Eddy</title><p>The dashboard was not built into this \
binary: run <code>make build</code> (it runs scripts/build-web-ui.sh first). The REST API is at /api/v1.</p>";

pub fn serve(path: &str) -> Response {
    let file = path.trim_start_matches('/');
    if let Some(content) = Assets::get(file).filter(|_| !file.is_empty()) {
        let mime = mime_guess::from_path(file).first_or_octet_stream();
        return (
            [(header::CONTENT_TYPE, mime.as_ref().to_string())],
            content.data,
        )
            .into_response();
    }
    match Assets::get("index.html") {
        Some(index) => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8".to_string())],
            index.data,
        )
            .into_response(),
        None => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            MISSING_UI,
        )
            .into_response(),
    }
}
