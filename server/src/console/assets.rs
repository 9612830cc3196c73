//! The console's stylesheet and script, embedded in the binary: nothing is fetched from
//! anywhere else, and the pages work without the script (it only guards double clicks).

use super::page;
use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

const CSS: &[u8] = include_bytes!("assets/console.css");
const JS: &[u8] = include_bytes!("assets/console.js");

/// `GET /console/assets/{name}`.
pub async fn serve(Path(name): Path<String>) -> Response {
    let (body, content_type) = match name.as_str() {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "console.js" => (JS, "text/javascript; charset=utf-8"),
        _ => {
            return page::with_headers(
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                b"not found".to_vec(),
            )
        }
    };
    let mut response = page::with_headers(StatusCode::OK, content_type, body.to_vec());
    // Assets hold no data: let the browser keep them for an hour.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}
