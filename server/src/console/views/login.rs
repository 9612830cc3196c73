//! Signing in and out. The sign-in form has its own CSRF token (a cookie and a hidden
//! field that must match, since there is no session yet); a name is throttled after a
//! few wrong passwords; every attempt is in the audit log.

use crate::console::audit::{self, action};
use crate::console::page::{self, Notice};
use crate::console::session::{self, COOKIE, LIFETIME_MS, LOGIN_COOKIE, LOGIN_FORM_SECS};
use crate::console::store::NewSession;
use crate::console::{csrf, password, Console, Signed};
use crate::ledger::{now_ms, LedgerBackend};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Form;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// `GET /console/login`: the form, with a fresh CSRF cookie and token.
pub async fn form(State(console): State<Console>, headers: HeaderMap) -> Response {
    render_form(&console, &headers, StatusCode::OK, None, "")
}

fn render_form(
    console: &Console,
    headers: &HeaderMap,
    status: StatusCode,
    notice: Option<Notice>,
    username: &str,
) -> Response {
    let token = session::new_token();
    let mut response = page::render(
        status,
        "login.html",
        minijinja::context! { csrf => token, notice, username },
    );
    let cookie = session::set_cookie(
        LOGIN_COOKIE,
        &token,
        "/console/login",
        LOGIN_FORM_SECS,
        console.secure(headers),
    );
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

/// `POST /console/login`: same origin, the form's token, the throttle, then the password.
pub async fn submit(
    State(console): State<Console>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let app = console.app();
    let config = &app.config.console;
    if !csrf::same_origin(&headers, config.public_url.as_deref()) {
        let notice = Notice::error("This sign-in came from another site.");
        return render_form(&console, &headers, StatusCode::FORBIDDEN, Some(notice), "");
    }
    let expected = session::cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if !csrf::token_matches(&form.csrf, expected) {
        let notice = Notice::error("The sign-in form expired. Please try again.");
        return render_form(&console, &headers, StatusCode::FORBIDDEN, Some(notice), "");
    }
    let name = form.username.trim();
    if let Err(wait) = console.throttle.attempt(name) {
        let seconds = wait.as_secs().max(1);
        let notice = Notice::error(format!(
            "Too many attempts. Wait {seconds} s before signing in again."
        ));
        let mut response = render_form(
            &console,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            Some(notice),
            name,
        );
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    let operator = config.operator(name);
    let hash = operator.map_or(password::decoy(), |o| o.password_hash.as_str());
    // Off the async threads: argon2 takes tens of milliseconds of CPU by design.
    let candidate = form.password.clone();
    let hash = hash.to_string();
    let verified = tokio::task::spawn_blocking(move || password::verify(&candidate, &hash))
        .await
        .unwrap_or(false);
    let Some(operator) = operator.filter(|_| verified) else {
        console.throttle.failed(name);
        let mut entry = audit::entry(name, action::SIGN_IN_REFUSED, "wrong_password");
        // The name as typed may be anything: keep it short in the log.
        entry.operator = name.chars().take(64).collect();
        audit::append(&app.ledger, entry).await;
        let notice = Notice::error("Wrong name or password.");
        return render_form(
            &console,
            &headers,
            StatusCode::UNAUTHORIZED,
            Some(notice),
            name,
        );
    };
    console.throttle.succeeded(name);
    let token = session::new_token();
    let now = now_ms();
    let stored = app
        .ledger
        .backend()
        .console_session_create(NewSession {
            token_hash: session::token_hash(&token),
            operator: operator.name.clone(),
            csrf: session::new_token(),
            created_at_ms: now,
            expires_at_ms: now + LIFETIME_MS,
        })
        .await;
    if let Err(error) = stored {
        tracing::error!(%error, "console: cannot store a session");
        let notice = Notice::error("The sign-in could not be stored. Try again in a moment.");
        return render_form(
            &console,
            &headers,
            StatusCode::SERVICE_UNAVAILABLE,
            Some(notice),
            name,
        );
    }
    audit::append(
        &app.ledger,
        audit::entry(&operator.name, action::SIGN_IN, "ok"),
    )
    .await;
    let secure = console.secure(&headers);
    let mut response = page::see_other("/console");
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        session::set_cookie(COOKIE, &token, "/console", LIFETIME_MS / 1000, secure),
    );
    cookies.append(
        header::SET_COOKIE,
        session::set_cookie(LOGIN_COOKIE, "", "/console/login", 0, secure),
    );
    response
}

#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /console/logout`: ends the session in the database and clears the cookie.
pub async fn logout(
    State(console): State<Console>,
    signed: Signed,
    headers: HeaderMap,
    Form(form): Form<SignOutForm>,
) -> Response {
    if let Err(refused) = signed.check_write(&headers, &form.csrf, false) {
        return *refused;
    }
    let ledger = &signed.app.ledger;
    if let Err(error) = ledger
        .backend()
        .console_session_delete(signed.token_hash.clone())
        .await
    {
        tracing::error!(%error, "console: cannot end a session");
        return page::message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            "The session could not be ended just now. Try again in a moment.",
            signed.base(),
        );
    }
    audit::append(ledger, audit::entry(&signed.name, action::SIGN_OUT, "ok")).await;
    let mut response = page::see_other("/console/login");
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(COOKIE, "", "/console", 0, console.secure(&headers)),
    );
    response
}
