//! Test support shared by the SDK's integration tests: the real server binary on a
//! free port with a temp-dir SQLite database (through the workspace's test harness,
//! `credit-sync-testkit`), client configs for its sources, and a scripted
//! fault-injection TCP proxy that breaks connections on cue.
#![allow(dead_code)]

use credit_sync::{Backoff, Config};
use credit_sync_testkit::{self as testkit, ServerConfig, Source};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const SOURCE: &str = "media_bot";
pub const API_KEY: &str = "media-bot-api-key-2024";
pub const SECRET: &str = "your-secret-key-here";
/// A source with the default permissions (read, write: no admin) and no auto-registration.
pub const PLAIN_SOURCE: &str = "plain_bot";
pub const PLAIN_API_KEY: &str = "plain-bot-key";
pub const PLAIN_SECRET: &str = "plain-bot-secret";
/// A source limited to one request per second.
pub const LIMITED_SOURCE: &str = "limited_bot";
pub const LIMITED_API_KEY: &str = "limited-bot-key";
pub const LIMITED_SECRET: &str = "limited-bot-secret";
/// The server's `max_amount` in these tests.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;

/// A running `credit-sync-server serve` (the shared test harness, `credit-sync-testkit`)
/// with the three sources above; killed on drop.
pub struct Server {
    inner: testkit::Server,
    pub base_url: String,
}

impl Server {
    pub fn start() -> Server {
        let config = ServerConfig::new(vec![
            Source::new(SOURCE, API_KEY, SECRET).admin(),
            Source::new(PLAIN_SOURCE, PLAIN_API_KEY, PLAIN_SECRET).auto_register(false),
            Source::new(LIMITED_SOURCE, LIMITED_API_KEY, LIMITED_SECRET).rate_limit_per_sec(1),
        ])
        .max_amount(MAX_AMOUNT);
        let inner = testkit::Server::start(config);
        Server {
            base_url: inner.base_url(),
            inner,
        }
    }

    /// `host:port` of the server, for the proxy.
    pub fn addr(&self) -> String {
        self.inner.addr().to_string()
    }

    /// A config for `media_bot` at `base_url`, with a fast backoff so retry tests are quick.
    pub fn config_at(&self, base_url: &str) -> credit_sync::ConfigBuilder {
        fast(
            Config::builder()
                .base_url(base_url)
                .api_key(API_KEY)
                .secret_key(SECRET)
                .source(SOURCE),
        )
    }

    /// A config for `media_bot` talking to the server directly.
    pub fn config(&self) -> credit_sync::ConfigBuilder {
        self.config_at(&self.base_url)
    }

    pub fn plain_config(&self) -> credit_sync::ConfigBuilder {
        fast(
            Config::builder()
                .base_url(&self.base_url)
                .api_key(PLAIN_API_KEY)
                .secret_key(PLAIN_SECRET)
                .source(PLAIN_SOURCE),
        )
    }

    pub fn limited_config(&self) -> credit_sync::ConfigBuilder {
        fast(
            Config::builder()
                .base_url(&self.base_url)
                .api_key(LIMITED_API_KEY)
                .secret_key(LIMITED_SECRET)
                .source(LIMITED_SOURCE),
        )
    }

    pub fn client(&self) -> credit_sync::Client {
        credit_sync::Client::new(self.config().build().unwrap()).unwrap()
    }

    pub fn blocking_client(&self) -> credit_sync::blocking::Client {
        credit_sync::blocking::Client::new(self.config().build().unwrap()).unwrap()
    }

    pub fn log(&self) -> String {
        self.inner.stderr_log()
    }
}

fn fast(b: credit_sync::ConfigBuilder) -> credit_sync::ConfigBuilder {
    b.backoff(Backoff {
        base: Duration::from_millis(20),
        factor: 2.0,
        cap: Duration::from_millis(200),
    })
}

/// A fresh telegram id per call, so tests sharing a server never share users.
pub fn user() -> i64 {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    let pid = std::process::id() as i64 % 10_000;
    1_000_000 + pid * 100_000 + NEXT.fetch_add(1, Ordering::Relaxed) as i64
}

/// A port nobody listens on.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

// ---------------------------------------------------------------------------
// Fault-injection proxy
// ---------------------------------------------------------------------------

/// What the proxy does with the next request it reads.
#[derive(Debug, Clone)]
pub enum Action {
    /// Pass it to the server and the answer back.
    Forward,
    /// Pass it to the server, read the answer, then close the client's connection
    /// without sending it: the change is applied but the client never hears.
    ForwardThenDrop,
    /// Like `ForwardThenDrop`, but reset the connection (RST).
    ForwardThenReset,
    /// Answer by itself with this status, body and extra headers; the server never sees it.
    Respond(u16, String, Vec<(String, String)>),
    /// Read the request and never answer.
    Hang,
}

/// A TCP proxy on 127.0.0.1 in front of the server, on its own thread and runtime so
/// both the async and the blocking tests can use it. Requests consume the script in
/// order; once it is empty, every request is forwarded.
pub struct Proxy {
    pub base_url: String,
    script: Arc<Mutex<VecDeque<Action>>>,
    requests: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Vec<u8>>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Proxy {
    pub fn start(upstream: &str, script: impl IntoIterator<Item = Action>) -> Proxy {
        let script = Arc::new(Mutex::new(script.into_iter().collect::<VecDeque<_>>()));
        let requests = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let upstream = upstream.to_string();
        let (s, r, w) = (script.clone(), requests.clone(), seen.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let accept = async {
                    loop {
                        let Ok((conn, _)) = listener.accept().await else {
                            continue;
                        };
                        let (upstream, s, r, w) =
                            (upstream.clone(), s.clone(), r.clone(), w.clone());
                        tokio::spawn(async move {
                            let _ = serve(conn, &upstream, s, r, w).await;
                        });
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = stop_rx => {}
                }
            });
        });
        let addr = addr_rx.recv().unwrap();
        Proxy {
            base_url: format!("http://{addr}"),
            script,
            requests,
            seen,
            shutdown: Some(stop_tx),
        }
    }

    /// How many requests reached the proxy.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Every request the proxy read, as text (head and body), in order.
    pub fn seen(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect()
    }

    /// Appends actions to the script.
    pub fn push(&self, actions: impl IntoIterator<Item = Action>) {
        self.script.lock().unwrap().extend(actions);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn serve(
    mut client: TcpStream,
    upstream_addr: &str,
    script: Arc<Mutex<VecDeque<Action>>>,
    requests: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Vec<u8>>>>,
) -> std::io::Result<()> {
    let mut upstream: Option<TcpStream> = None;
    let mut client_buf = Vec::new();
    let mut upstream_buf = Vec::new();
    loop {
        let Some(request) = read_message(&mut client, &mut client_buf).await? else {
            return Ok(());
        };
        seen.lock().unwrap().push(request.clone());
        requests.fetch_add(1, Ordering::SeqCst);
        let action = script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Action::Forward);
        match action {
            Action::Respond(status, body, headers) => {
                let mut head = format!(
                    "HTTP/1.1 {status} Injected\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
                    body.len()
                );
                for (k, v) in headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                client.write_all(head.as_bytes()).await?;
                client.write_all(body.as_bytes()).await?;
            }
            Action::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            forward => {
                if upstream.is_none() {
                    upstream = Some(TcpStream::connect(upstream_addr).await?);
                    upstream_buf.clear();
                }
                let up = upstream.as_mut().unwrap();
                up.write_all(&request).await?;
                let Some(response) = read_message(up, &mut upstream_buf).await? else {
                    return Ok(());
                };
                match forward {
                    Action::ForwardThenDrop => {
                        client.shutdown().await?;
                        return Ok(());
                    }
                    Action::ForwardThenReset => {
                        client.set_zero_linger()?;
                        drop(client);
                        return Ok(());
                    }
                    _ => client.write_all(&response).await?,
                }
            }
        }
    }
}

/// Reads one HTTP/1.1 message (head plus a `content-length` body). `None` at a clean EOF.
async fn read_message(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<Vec<u8>>> {
    loop {
        if let Some(end) = find(buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let total = end + 4 + len;
            while buf.len() < total {
                if read_more(stream, buf).await? == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
            }
            let message = buf.drain(..total).collect();
            return Ok(Some(message));
        }
        if read_more(stream, buf).await? == 0 {
            return Ok(None);
        }
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut chunk = [0u8; 8192];
    let n = stream.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A JSON error envelope as the server sends it.
pub fn error_body(code: &str, extra: &str) -> String {
    format!(
        r#"{{"success":false,"code":"{code}","message":"injected {code}","balance":null,"data":null{extra}}}"#
    )
}
