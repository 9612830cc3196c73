//! The operator console: server-rendered pages under `/console/` for the people who run
//! the ledger (find a user, see where their credits went, adjust, reverse, void a hold),
//! behind argon2 passwords, database sessions, CSRF tokens and an audit log.
//!
//! This module holds the router and what every page shares: who is signed in
//! ([`Signed`]) and the checks a state change must pass ([`Signed::check_write`]).

mod assets;
pub mod audit;
mod chart;
pub mod csrf;
mod page;
pub mod password;
pub mod session;
pub mod store;
pub mod throttle;
mod views;

use crate::config::Role;
use crate::ledger::{now_ms, LedgerBackend};
use crate::routes::{AppState, Current};
use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

/// The console's state: the server's current [`App`](crate::routes::App) and what
/// outlives a config reload (the sign-in throttle).
#[derive(Clone)]
pub(crate) struct Console {
    current: Current,
    throttle: Arc<throttle::Throttle>,
}

/// The routes under `/console/`, or when `[console]` is not enabled, none (every path
/// there is `404`).
pub(crate) fn router(current: &Current) -> Router<Current> {
    let console = Console {
        current: current.clone(),
        throttle: Arc::new(throttle::Throttle::default()),
    };
    if !current.get().config.console.enabled {
        return Router::new().fallback(disabled).with_state(console);
    }
    Router::new()
        .route("/", get(views::overview::page))
        .route("/login", get(views::login::form).post(views::login::submit))
        .route("/logout", post(views::login::logout))
        .route("/users", get(views::users::find))
        .route("/users/{telegram_id}", get(views::user::page))
        .route("/users/{telegram_id}/adjust", post(views::actions::adjust))
        .route(
            "/users/{telegram_id}/reverse",
            post(views::actions::reverse),
        )
        .route("/users/{telegram_id}/void", post(views::actions::void))
        .route("/sources", get(views::sources::page))
        .route("/audit", get(views::audit::page))
        .route("/webhooks", get(views::webhooks::page))
        .route("/assets/{name}", get(assets::serve))
        .fallback(not_found)
        .with_state(console)
}

async fn disabled() -> Response {
    crate::error::ApiError::new(
        credit_sync::protocol::Code::NotFound,
        "no such route (the console is not enabled)",
    )
    .into_response()
}

async fn not_found(OriginalUri(uri): OriginalUri, signed: Option<Signed>) -> Response {
    if uri.path() == "/console/" {
        return page::see_other("/console");
    }
    let base = signed.as_ref().map(Signed::base).unwrap_or_default();
    page::message(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page in the console.",
        base,
    )
}

impl Console {
    pub(crate) fn app(&self) -> AppState {
        self.current.get()
    }

    /// The `Secure` flag: when the console's public URL is https, or the proxy in front
    /// says the request came over https.
    fn secure(&self, headers: &HeaderMap) -> bool {
        let public_https = self
            .app()
            .config
            .console
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"));
        public_https
            || headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|p| p.eq_ignore_ascii_case("https"))
    }
}

/// The operator whose session cookie came with the request: a stored, unexpired session
/// of a name that is still configured (a removed operator's sessions end at once; a
/// changed role applies at once). Without one, a page answers with the sign-in form.
pub(crate) struct Signed {
    pub name: String,
    pub role: Role,
    pub csrf: String,
    pub token_hash: String,
    pub app: AppState,
}

impl Signed {
    /// What every page's template needs: who is signed in and the session's CSRF token.
    pub fn base(&self) -> minijinja::Value {
        minijinja::context! {
            operator => self.name,
            role => self.role.as_str(),
            csrf => self.csrf,
            can_write => self.role.may_write(),
            notice => minijinja::Value::from(()),
            nav => "",
        }
    }

    /// The checks a state change passes before anything is written: the browser's
    /// `Origin`, the form's CSRF token, and (`write`) the operator role. A refusal is the
    /// page to answer with (boxed: a response is large).
    pub fn check_write(
        &self,
        headers: &HeaderMap,
        csrf: &str,
        write: bool,
    ) -> Result<(), Box<Response>> {
        let console = &self.app.config.console;
        if !csrf::same_origin(headers, console.public_url.as_deref()) {
            return Err(refused(self, "This request came from another site."));
        }
        if !csrf::token_matches(csrf, &self.csrf) {
            return Err(refused(
                self,
                "The form's security token is missing or stale. Reload the page and try again.",
            ));
        }
        if write && !self.role.may_write() {
            return Err(refused(
                self,
                "Viewers can read the console but not change the ledger.",
            ));
        }
        Ok(())
    }
}

fn refused(signed: &Signed, text: &str) -> Box<Response> {
    Box::new(page::message(
        StatusCode::FORBIDDEN,
        "Refused",
        text,
        signed.base(),
    ))
}

/// Not signed in: GET pages send the browser to the sign-in form, anything else is `403`.
pub(crate) struct SignIn(bool);

impl IntoResponse for SignIn {
    fn into_response(self) -> Response {
        if self.0 {
            page::see_other("/console/login")
        } else {
            page::message(
                StatusCode::FORBIDDEN,
                "Signed out",
                "Sign in first.",
                minijinja::Value::default(),
            )
        }
    }
}

impl FromRequestParts<Console> for Signed {
    type Rejection = SignIn;

    async fn from_request_parts(parts: &mut Parts, console: &Console) -> Result<Signed, SignIn> {
        let reading = parts.method == axum::http::Method::GET;
        let app = console.app();
        let token = session::cookie(&parts.headers, session::COOKIE).ok_or(SignIn(reading))?;
        let token_hash = session::token_hash(token);
        let found = app
            .ledger
            .backend()
            .console_session_find(token_hash.clone(), now_ms())
            .await
            .map_err(|error| {
                tracing::error!(%error, "console: cannot read a session");
                SignIn(reading)
            })?
            .ok_or(SignIn(reading))?;
        let operator = app
            .config
            .console
            .operator(&found.operator)
            .ok_or(SignIn(reading))?;
        Ok(Signed {
            name: operator.name.clone(),
            role: operator.role,
            csrf: found.csrf,
            token_hash,
            app: app.clone(),
        })
    }
}

impl axum::extract::OptionalFromRequestParts<Console> for Signed {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Console,
    ) -> Result<Option<Signed>, Self::Rejection> {
        Ok(
            <Signed as FromRequestParts<Console>>::from_request_parts(parts, console)
                .await
                .ok(),
        )
    }
}

/// A fresh reference for a form: the write it submits uses it as its
/// `external_reference`, so submitting the same form twice writes once.
pub(crate) fn form_reference() -> String {
    let bytes: [u8; 12] = rand::random();
    format!("console-{}", hex::encode(bytes))
}

/// The ledger source of an operator's writes.
pub(crate) fn source_of(operator: &str) -> String {
    format!("console:{operator}")
}
