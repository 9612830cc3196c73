//! The operator console over HTTP, on the suite's backend: sessions (cookie flags, sign
//! out, expiry, across processes), CSRF tokens and foreign origins, the sign-in throttle,
//! roles, escaping, masked keys, and the writes (adjust, reverse, void) with their audit
//! entries and double-click idempotency.

mod support;

use credit_sync::protocol::paths;
use regex::Regex;
use reqwest::header::{HeaderMap, CONTENT_TYPE, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use support::*;

const OPS: (&str, &str) = ("ops", "ops-password-1");
const VIEWER: (&str, &str) = ("view", "view-password-1");

/// An argon2id PHC string of `password`, made by `credit-sync-server operators
/// hash-password` (so the command is tested too).
fn hash_password(password: &str) -> String {
    let mut child = Command::new(server_bin())
        .args(["operators", "hash-password"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run hash-password");
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    hash
}

fn console_toml() -> String {
    static HASHES: OnceLock<(String, String)> = OnceLock::new();
    let (ops, viewer) = HASHES.get_or_init(|| (hash_password(OPS.1), hash_password(VIEWER.1)));
    format!(
        "\n[console]\nenabled = true\n\n\
         [[console.operators]]\nname = \"{}\"\npassword_hash = \"{ops}\"\nrole = \"operator\"\n\n\
         [[console.operators]]\nname = \"{}\"\npassword_hash = \"{viewer}\"\nrole = \"viewer\"\n",
        OPS.0, VIEWER.0
    )
}

fn start() -> Server {
    Server::start_with(|toml| toml + &console_toml())
}

/// A form body as a browser encodes it.
fn urlencoded(form: &[(&str, &str)]) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    form.iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A browser without JavaScript: keeps cookies, follows no redirects, sends `Origin` on
/// posts like a browser does.
struct Browser {
    base: String,
    origin: String,
    client: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

struct Page {
    status: u16,
    headers: HeaderMap,
    html: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The value of the first hidden field `name` (after `after`, when given).
    fn field(&self, name: &str) -> String {
        let re = Regex::new(&format!(r#"name="{name}" value="([^"]*)""#)).unwrap();
        re.captures(&self.html)
            .unwrap_or_else(|| panic!("no field {name} in:\n{}", self.html))[1]
            .to_string()
    }

    /// Every value of the hidden field `name`.
    fn fields(&self, name: &str) -> Vec<String> {
        let re = Regex::new(&format!(r#"name="{name}" value="([^"]*)""#)).unwrap();
        re.captures_iter(&self.html)
            .map(|c| c[1].to_string())
            .collect()
    }
}

impl Browser {
    fn new(server: &Server) -> Browser {
        let base = server.base_url();
        Browser {
            origin: base.clone(),
            base,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    fn remember(&mut self, headers: &HeaderMap) {
        for value in headers.get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let (pair, _) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.into(), value.into());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn read(&mut self, response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        self.remember(&headers);
        let html = response.text().await.unwrap();
        Page {
            status,
            headers,
            html,
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.read(response).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let origin = self.origin.clone();
        self.post_from(path, form, Some(&origin)).await
    }

    async fn post_from(&mut self, path: &str, form: &[(&str, &str)], origin: Option<&str>) -> Page {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(urlencoded(form));
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        let response = request.send().await.unwrap();
        self.read(response).await
    }

    async fn sign_in(&mut self, (name, password): (&str, &str)) -> Page {
        let form = self.get("/console/login").await;
        assert_eq!(form.status, 200);
        let csrf = form.field("csrf");
        self.post(
            "/console/login",
            &[("username", name), ("password", password), ("csrf", &csrf)],
        )
        .await
    }

    async fn signed_in(server: &Server, who: (&str, &str)) -> Browser {
        let mut browser = Browser::new(server);
        let page = browser.sign_in(who).await;
        assert_eq!(
            (page.status, page.location()),
            (303, "/console"),
            "{}",
            page.html
        );
        browser
    }
}

#[tokio::test]
async fn a_session_is_a_strict_http_only_cookie_and_signing_out_ends_it() {
    let server = start();
    let mut browser = Browser::new(&server);
    assert_eq!(browser.get("/console").await.location(), "/console/login");
    let signed_in = browser.sign_in(OPS).await;
    assert_eq!(signed_in.status, 303);
    let cookie = signed_in
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("credit_sync_console="))
        .expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: no Secure flag");
    let overview = browser.get("/console").await;
    assert_eq!(overview.status, 200);
    assert!(overview.html.contains("Credits outstanding"));
    assert!(overview
        .headers
        .get("content-security-policy")
        .is_some_and(|v| v.to_str().unwrap().contains("script-src 'self'")));

    // The same cookie works from another process on the same database (PostgreSQL: one
    // process serves a SQLite file).
    if server.is_postgres() {
        let sibling = Server::start_on(server.database_url(), |toml| toml + &console_toml());
        let mut other = Browser::new(&sibling);
        other.cookies = browser.cookies.clone();
        assert_eq!(other.get("/console/audit").await.status, 200);
    }

    let kept = browser.cookies.clone();
    let csrf = overview.field("csrf");
    let out = browser.post("/console/logout", &[("csrf", &csrf)]).await;
    assert_eq!((out.status, out.location()), (303, "/console/login"));
    assert!(!browser.cookies.contains_key("credit_sync_console"));
    // A copy of the old cookie signs no one in any more: the session is gone.
    browser.cookies = kept;
    assert_eq!(browser.get("/console").await.location(), "/console/login");
    let audit = Browser::signed_in(&server, OPS)
        .await
        .get("/console/audit")
        .await;
    assert!(audit.html.contains("sign_out"), "{}", audit.html);
}

#[tokio::test]
async fn https_behind_a_proxy_makes_the_cookie_secure() {
    let server = start();
    let mut browser = Browser::new(&server);
    let form = browser.get("/console/login").await;
    let response = browser
        .client
        .post(format!("{}/console/login", browser.base))
        .header(COOKIE, browser.cookie_header())
        .header(ORIGIN, browser.origin.clone())
        .header("x-forwarded-proto", "https")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(urlencoded(&[
            ("username", OPS.0),
            ("password", OPS.1),
            ("csrf", &form.field("csrf")),
        ]))
        .send()
        .await
        .unwrap();
    let cookie = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("credit_sync_console="))
        .unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test]
async fn an_expired_or_unknown_session_signs_no_one_in() {
    let server = start();
    let token = "ab".repeat(32);
    let hash = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(token.as_bytes()))
    };
    // Touch the database once through the server, so its tables exist.
    assert_eq!(
        Browser::new(&server).get("/console/login").await.status,
        200
    );
    let insert = format!(
        "INSERT INTO console_sessions (token_hash, operator, csrf, created_at_ms, expires_at_ms) \
         VALUES ('{hash}', 'ops', 'c', 1, 2)"
    );
    raw_execute(server.database_url(), &[&insert])
        .remove(0)
        .unwrap();
    let mut browser = Browser::new(&server);
    browser.cookies.insert("credit_sync_console".into(), token);
    assert_eq!(browser.get("/console").await.location(), "/console/login");
    browser
        .cookies
        .insert("credit_sync_console".into(), "cd".repeat(32));
    assert_eq!(browser.get("/console").await.location(), "/console/login");
}

#[tokio::test]
async fn signing_in_needs_the_right_password_its_form_token_and_our_origin() {
    let server = start();
    let mut browser = Browser::new(&server);
    let wrong = browser.sign_in((OPS.0, "nope")).await;
    assert_eq!(wrong.status, 401);
    let unknown = browser.sign_in(("nobody", OPS.1)).await;
    assert_eq!(unknown.status, 401);
    assert_eq!(wrong.html.matches("Wrong name or password").count(), 1);
    assert!(unknown.html.contains("Wrong name or password"));

    // No form token (a forged form on another page has none of ours).
    let mut forger = Browser::new(&server);
    let forged = forger
        .post(
            "/console/login",
            &[("username", OPS.0), ("password", OPS.1), ("csrf", "x")],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert!(!forger.cookies.contains_key("credit_sync_console"));
    // Another site's origin, even with a valid token.
    let form = browser.get("/console/login").await;
    let csrf = form.field("csrf");
    let foreign = browser
        .post_from(
            "/console/login",
            &[("username", OPS.0), ("password", OPS.1), ("csrf", &csrf)],
            Some("http://evil.example"),
        )
        .await;
    assert_eq!(foreign.status, 403);
    assert!(!browser.cookies.contains_key("credit_sync_console"));
}

#[tokio::test]
async fn signing_in_is_throttled_after_five_wrong_passwords() {
    let server = start();
    let mut browser = Browser::new(&server);
    for _ in 0..5 {
        assert_eq!(browser.sign_in((VIEWER.0, "wrong")).await.status, 401);
    }
    let throttled = browser.sign_in(VIEWER).await;
    assert_eq!(throttled.status, 429, "even the right password waits");
    let wait: u64 = throttled.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(!browser.cookies.contains_key("credit_sync_console"));
    // Other names are not held up.
    assert_eq!(browser.sign_in(OPS).await.status, 303);
    let audit = browser.get("/console/audit").await;
    assert_eq!(
        audit.html.matches("sign_in_refused").count(),
        5,
        "{}",
        audit.html
    );
}

/// Posts the adjust form of user 42 (-30, "refund order 7") with `reference`.
async fn adjust(browser: &mut Browser, reference: &str, csrf: &str, origin: &str) -> Page {
    let form = [
        ("csrf", csrf),
        ("reference", reference),
        ("amount", "-30"),
        ("reason", "refund order 7"),
    ];
    browser
        .post_from("/console/users/42/adjust", &form, Some(origin))
        .await
}

#[tokio::test]
async fn a_write_needs_the_session_token_and_our_origin_and_a_double_click_writes_once() {
    let server = start();
    let bot = server.admin();
    bot.fund(42, 100).await;
    let mut browser = Browser::signed_in(&server, OPS).await;
    let page = browser.get("/console/users/42").await;
    assert_eq!(page.status, 200);
    let csrf = page.field("csrf");
    let reference = page.fields("reference")[0].clone();
    let own = browser.origin.clone();
    assert_eq!(adjust(&mut browser, &reference, "", &own).await.status, 403);
    assert_eq!(
        adjust(&mut browser, &reference, "bad-token", &own)
            .await
            .status,
        403
    );
    let foreign = "http://evil.example";
    assert_eq!(
        adjust(&mut browser, &reference, &csrf, foreign)
            .await
            .status,
        403
    );
    assert_eq!(bot.balance(42).await, Some(100), "nothing written");

    let done = adjust(&mut browser, &reference, &csrf, &own).await;
    assert_eq!(done.status, 200, "{}", done.html);
    assert!(done.html.contains("Adjusted by -30"), "{}", done.html);
    let again = adjust(&mut browser, &reference, &csrf, &own).await;
    assert_eq!(again.status, 200);
    assert!(again.html.contains("Already done"), "{}", again.html);
    assert_eq!(bot.balance(42).await, Some(70), "one deduction");
    let records = bot.records(42).await;
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].source, "console:ops");
    assert_eq!(records[0].reason, "refund order 7");
    assert_eq!(
        records[0].external_reference.as_deref(),
        Some(reference.as_str())
    );

    let audit = browser.get("/console/audit").await;
    assert_eq!(
        audit.html.matches("refund order 7").count(),
        1,
        "{}",
        audit.html
    );

    // A reason is required.
    let page = browser.get("/console/users/42").await;
    let reference = page.fields("reference")[0].clone();
    let no_reason = browser
        .post(
            "/console/users/42/adjust",
            &[
                ("csrf", &csrf),
                ("reference", &reference),
                ("amount", "5"),
                ("reason", " "),
            ],
        )
        .await;
    assert_eq!(no_reason.status, 400);
    assert!(no_reason.html.contains("A reason is required"));
    assert_eq!(bot.balance(42).await, Some(70));
}

#[tokio::test]
async fn a_viewer_reads_every_page_but_cannot_write() {
    let server = start();
    let bot = server.admin();
    bot.fund(7, 50).await;
    let mut viewer = Browser::signed_in(&server, VIEWER).await;
    for path in [
        "/console",
        "/console/users?q=a",
        "/console/sources",
        "/console/audit",
        "/console/webhooks",
    ] {
        assert_eq!(viewer.get(path).await.status, 200, "{path}");
    }
    let page = viewer.get("/console/users/7").await;
    assert_eq!(page.status, 200);
    assert!(
        !page.html.contains("/adjust\""),
        "no write forms for a viewer"
    );
    let csrf = page.field("csrf");
    let refused = viewer
        .post(
            "/console/users/7/adjust",
            &[
                ("csrf", &csrf),
                ("reference", "console-x1"),
                ("amount", "5"),
                ("reason", "gift"),
            ],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert!(refused.html.contains("Viewers can read"));
    assert_eq!(bot.balance(7).await, Some(50));
    let audit = viewer.get("/console/audit").await;
    assert!(audit.html.contains("forbidden"), "{}", audit.html);
}

#[tokio::test]
async fn every_user_controlled_string_is_escaped() {
    let server = start();
    let bot = server.admin();
    let script = "<script>alert(1)</script>";
    let reply = bot
        .post(
            paths::USERS,
            &json!({"telegram_id": 9, "nickname": script, "source": "media_bot"}),
            Sign::V2At(signing_time()),
        )
        .await;
    reply.expect_ok();
    bot.sync(9, 10, "<img src=x onerror=alert(2)>", Some("ref\"><b>"))
        .await;
    let mut browser = Browser::signed_in(&server, OPS).await;
    let page = browser.get("/console/users/9").await;
    assert!(
        page.html
            .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
        "{}",
        page.html
    );
    assert!(!page.html.contains(script));
    assert!(!page.html.contains("<img src=x"));
    let found = browser.get("/console/users?q=%3Cscript").await;
    assert!(found.html.contains("&lt;script&gt;"), "{}", found.html);
    assert!(!found.html.contains(script));
    assert!(found.html.contains("/console/users/9"));
}

#[tokio::test]
async fn keys_are_masked_and_secrets_never_shown() {
    let server = start();
    let mut browser = Browser::signed_in(&server, OPS).await;
    let page = browser.get("/console/sources").await;
    assert_eq!(page.status, 200);
    for (name, key, secret) in [ADMIN, WRITER, READER, NO_AUTO, LIMITED] {
        assert!(page.html.contains(name));
        assert!(!page.html.contains(key), "{key}");
        assert!(!page.html.contains(secret), "{secret}");
    }
    assert!(page.html.contains("••••••••2024"));
    // Nor in any other page.
    for path in ["/console", "/console/audit"] {
        let html = browser.get(path).await.html;
        assert!(!html.contains(ADMIN.1) && !html.contains(ADMIN.2));
    }
}

#[tokio::test]
async fn find_goes_to_an_id_or_lists_nicknames() {
    let server = start();
    let mut browser = Browser::signed_in(&server, OPS).await;
    assert_eq!(
        browser.get("/console/users?q=12345").await.location(),
        "/console/users/12345"
    );
    let unknown = browser.get("/console/users/12345").await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.html.contains("not registered"));
    assert_eq!(browser.get("/console/nothing-here").await.status, 404);
}

#[tokio::test]
async fn a_record_is_reversed_and_a_hold_voided_from_the_console() {
    let server = start();
    let bot = server.admin();
    bot.fund(5, 100).await;
    let hold = bot
        .post(
            paths::HOLDS,
            &json!({"telegram_id": 5, "amount": 30, "reason": "image job", "external_reference": "job-1"}),
            Sign::V2At(signing_time()),
        )
        .await;
    hold.expect_ok();
    let hold_id = hold.body["data"]["hold"]["hold_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut browser = Browser::signed_in(&server, OPS).await;
    let page = browser.get("/console/users/5").await;
    assert!(page.html.contains(&hold_id), "{}", page.html);
    assert!(page.html.contains("id=\"held\">30<"), "{}", page.html);
    let csrf = page.field("csrf");
    let record_id = bot.records(5).await[0].id.to_string();

    // Reverse 40 of the 100: a deduction linked to the record.
    let references = page.fields("reference");
    let reversed = browser
        .post(
            "/console/users/5/reverse",
            &[
                ("csrf", &csrf),
                ("reference", &references[2]),
                ("record_id", &record_id),
                ("amount", "40"),
                ("reason", "partial refund"),
            ],
        )
        .await;
    assert_eq!(reversed.status, 200, "{}", reversed.html);
    assert!(reversed.html.contains("Reversed 40"), "{}", reversed.html);
    assert!(reversed
        .html
        .contains(&format!("reverses <a href=\"#record-{record_id}\">")));
    assert!(reversed.html.contains("reversed by"));
    assert_eq!(bot.balance(5).await, Some(60));

    // Void the hold (its form is the second reference on the page: adjust, then holds).
    let void = browser
        .post(
            "/console/users/5/void",
            &[
                ("csrf", &csrf),
                ("reference", &references[1]),
                ("hold_id", &hold_id),
                ("reason", "job failed"),
            ],
        )
        .await;
    assert_eq!(void.status, 200, "{}", void.html);
    assert!(void.html.contains("Voided hold"), "{}", void.html);
    assert!(void.html.contains("id=\"held\">0<"), "{}", void.html);
    let twice = browser
        .post(
            "/console/users/5/void",
            &[
                ("csrf", &csrf),
                ("reference", &references[1]),
                ("hold_id", &hold_id),
                ("reason", "job failed"),
            ],
        )
        .await;
    assert_eq!(
        twice.status, 200,
        "the same form again is a replay: {}",
        twice.html
    );
    let audit = browser.get("/console/audit").await.html;
    assert!(
        audit.contains("partial refund") && audit.contains("job failed"),
        "{audit}"
    );
    assert_eq!(audit.matches("job failed").count(), 1, "{audit}");
}

#[tokio::test]
async fn the_console_is_off_unless_enabled() {
    let server = Server::start();
    let reply = server.admin().get("/console/login").await;
    assert_eq!(reply.outcome(), (404, "not_found"));
}

#[tokio::test]
async fn the_overview_counts_users_credits_and_holds_and_charts_each_source() {
    let server = start();
    let bot = server.admin();
    bot.fund(1, 100).await;
    bot.fund(2, 50).await;
    bot.sync(2, -20, "spent", None).await.expect_ok();
    bot.post(
        paths::HOLDS,
        &json!({"telegram_id": 1, "amount": 30, "reason": "job"}),
        Sign::V2At(signing_time()),
    )
    .await
    .expect_ok();
    let mut browser = Browser::signed_in(&server, OPS).await;
    let page = browser.get("/console").await;
    let figure = |id: &str| {
        let re = Regex::new(&format!(r#"id="{id}">(-?\d+)<"#)).unwrap();
        re.captures(&page.html)
            .unwrap_or_else(|| panic!("{id}: {}", page.html))[1]
            .to_string()
    };
    assert_eq!(figure("users"), "2");
    assert_eq!(figure("outstanding"), "130");
    assert_eq!(figure("held"), "30");
    assert!(page.html.contains("<td>media_bot</td><td class=\"num\">+150</td><td class=\"num\">-20</td><td class=\"num\">3</td>"), "{}", page.html);
    assert!(page.html.contains("<svg"), "a chart");
    assert!(
        page.html.contains("media_bot: +150"),
        "a bar's title: {}",
        page.html
    );
    let sources = browser.get("/console/sources").await;
    assert!(sources.html.contains("+150"), "{}", sources.html);
}

#[tokio::test]
async fn records_and_the_audit_log_page_newest_first() {
    let server = start();
    let bot = server.admin();
    for i in 0..30 {
        bot.sync_v2(3, 1, &format!("credit {i}"), None)
            .await
            .expect_ok();
    }
    let mut browser = Browser::signed_in(&server, OPS).await;
    let first = browser.get("/console/users/3").await;
    let rows = |html: &str| {
        Regex::new(r#"<tr id="record-(\d+)">"#)
            .unwrap()
            .captures_iter(html)
            .map(|c| c[1].parse::<i64>().unwrap())
            .collect::<Vec<_>>()
    };
    let ids = rows(&first.html);
    assert_eq!(ids.len(), 25);
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let older = Regex::new(r#"href="(/console/users/3\?before=\d+)" rel="next""#)
        .unwrap()
        .captures(&first.html)
        .expect("an Older link")[1]
        .to_string();
    let second = browser.get(&older).await;
    let rest = rows(&second.html);
    assert_eq!(rest.len(), 5);
    assert!(rest[0] < *ids.last().unwrap());
    assert!(!second.html.contains("rel=\"next\""), "the last page");
    let audit = browser.get("/console/audit").await;
    assert!(audit.html.contains("sign_in"));
}

#[test]
fn hash_password_refuses_an_empty_password_and_a_bad_hash_stops_the_server() {
    let out = Command::new(server_bin())
        .args(["operators", "hash-password"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty"));

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        "[console]\nenabled = true\n[[console.operators]]\nname = \"ops\"\n\
         password_hash = \"SECRET-LOOKING-NOT-A-HASH\"\nrole = \"operator\"\n",
    )
    .unwrap();
    let out = Command::new(server_bin())
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("console operator \"ops\""), "{stderr}");
    assert!(!stderr.contains("SECRET-LOOKING"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhooks_page_shows_backlog_errors_and_failed_deliveries_escaped() {
    use credit_sync_testkit::{Answer, Receiver};
    let receiver = Receiver::start(|_, _| Answer::Status(500)).await;
    // Credentials and a query in the URL, and markup in its path: none reaches the page raw.
    let url = receiver
        .url("/h<b>?token=QUERYTOKEN")
        .replace("http://", "http://user:URLPASSWORD@");
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let server = Server::start_with(|toml| {
        format!(
            "{toml}{}\n[webhook_delivery]\nfirst_retry_ms = 10\nmax_retry_ms = 20\nmax_attempts = 2\n\
             attempt_timeout_ms = 300\nlease_ms = 1000\npoll_ms = 100\n\n\
             [[webhooks]]\nurl = \"{url}\"\nsecret = \"{secret}\"\n",
            console_toml()
        )
    });
    server.admin().fund(5, 10).await.expect_ok();
    let mut browser = Browser::signed_in(&server, VIEWER).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let page = loop {
        let page = browser.get("/console/webhooks").await;
        assert_eq!(page.status, 200);
        if page.html.contains("Failed deliveries to") && page.html.contains("credits.added")
            || std::time::Instant::now() > deadline
        {
            break page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(page.html.contains("HTTP 500"), "{}", page.html);
    assert!(page.html.contains("user.registered"), "{}", page.html);
    assert!(page.html.contains("&#x2f;h&lt;b&gt;"), "{}", page.html);
    for hidden in ["<b>", "QUERYTOKEN", "URLPASSWORD", "MfKQ9r8"] {
        assert!(!page.html.contains(hidden), "{hidden} in {}", page.html);
    }
}
