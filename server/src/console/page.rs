//! Rendering: the console's templates (embedded with `include_str!`), HTML-escaped by
//! the engine for every value, whatever the template says, and the headers every page
//! carries (a strict Content-Security-Policy, no caching, no framing).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use credit_sync::protocol::Code;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;
use std::sync::LazyLock;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("login.html", include_str!("templates/login.html")),
    ("message.html", include_str!("templates/message.html")),
    ("overview.html", include_str!("templates/overview.html")),
    ("chart.svg", include_str!("templates/chart.svg")),
    ("users.html", include_str!("templates/users.html")),
    ("user.html", include_str!("templates/user.html")),
    ("sources.html", include_str!("templates/sources.html")),
    ("audit.html", include_str!("templates/audit.html")),
    ("webhooks.html", include_str!("templates/webhooks.html")),
];

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // Every template escapes, the SVG chart included: escaping is never a choice.
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    // A misspelt variable is an error, not an empty string on a page (`if x` may test one).
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("console template {name}: {e}"));
    }
    env
});

/// What the banner at the top of a page says.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    /// `ok` or `error`.
    pub kind: &'static str,
    pub text: String,
}

impl Notice {
    pub fn ok(text: impl Into<String>) -> Notice {
        Notice {
            kind: "ok",
            text: text.into(),
        }
    }

    pub fn error(text: impl Into<String>) -> Notice {
        Notice {
            kind: "error",
            text: text.into(),
        }
    }
}

/// `template` rendered with `context` as an HTML page of `status`.
pub fn render(status: StatusCode, template: &str, context: minijinja::Value) -> Response {
    match text(template, context) {
        Ok(html) => {
            let mut response = with_headers(status, "text/html; charset=utf-8", html.into_bytes());
            response.extensions_mut().insert(code_of(status));
            response
        }
        Err(error) => {
            tracing::error!(%error, template, "console: a template failed");
            with_headers(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                b"internal error".to_vec(),
            )
        }
    }
}

/// The code `/metrics` counts a page under: the console's pages have no envelope, so
/// the status says it (an API code of the same status could mislabel them).
fn code_of(status: StatusCode) -> Code {
    match status.as_u16() {
        200..=399 => Code::Ok,
        400 => Code::InvalidField,
        401 => Code::Unauthorized,
        403 => Code::Forbidden,
        404 => Code::NotFound,
        429 => Code::RateLimited,
        503 => Code::ServiceUnavailable,
        _ => Code::ALL
            .iter()
            .copied()
            .find(|c| c.http_status() == status.as_u16() && !c.is_ok())
            .unwrap_or(Code::InternalError),
    }
}

/// `template` rendered to text (the chart's SVG, before it goes into a page).
pub fn text(template: &str, context: minijinja::Value) -> Result<String, minijinja::Error> {
    ENV.get_template(template)?.render(context)
}

/// A page that only says something (refused, not found, failed).
pub fn message(status: StatusCode, title: &str, text: &str, base: minijinja::Value) -> Response {
    render(
        status,
        "message.html",
        minijinja::context! { title, text, ..base },
    )
}

/// The body with the headers every console response carries.
pub fn with_headers(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    secure(headers);
    response
}

/// No inline scripts, nothing from elsewhere, no framing, no caching of pages with data.
pub fn secure(headers: &mut axum::http::HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

/// A `303 See Other` to `location` (after a sign-in or sign-out).
pub fn see_other(location: &str) -> Response {
    let mut response = with_headers(
        StatusCode::SEE_OTHER,
        "text/plain; charset=utf-8",
        Vec::new(),
    );
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    // A redirect is a success for `/metrics` (it counts by code, and 303 has none).
    response.extensions_mut().insert(Code::Ok);
    response
}

/// `YYYY-MM-DD HH:MM:SS` of an RFC 3339 UTC time (the seconds' fraction dropped).
pub fn when(rfc3339: &str) -> String {
    rfc3339.get(..19).unwrap_or(rfc3339).replace('T', " ")
}
