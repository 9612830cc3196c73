//! Proxies and CA bundles: the environment's `HTTP_PROXY`/`NO_PROXY`, an explicit proxy
//! overriding them, and `ca_file` checked when the client is built. One test, because
//! the proxy variables are process-wide and the other test binaries must not see them.

mod support;

use credit_sync::protocol::Code;
use credit_sync::{Client, Proxy};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::{user, Server};

/// A forward proxy for plain http (absolute-form requests), one request per connection,
/// counting what passes through it.
struct ForwardProxy {
    url: String,
    requests: Arc<AtomicUsize>,
}

impl ForwardProxy {
    fn start() -> ForwardProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    let _ = forward(conn, &counter);
                });
            }
        });
        ForwardProxy { url, requests }
    }

    fn count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn forward(client: TcpStream, counter: &AtomicUsize) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let Some(rest) = target.strip_prefix("http://") else {
        return Ok(()); // Not a forward-proxy request: drop it.
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut head = format!("{method} /{path} HTTP/1.1\r\n");
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        if h == "\r\n" || h.is_empty() {
            break;
        }
        let lower = h.to_ascii_lowercase();
        if lower.starts_with("connection:") || lower.starts_with("proxy-") {
            continue;
        }
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        head.push_str(&h);
    }
    head.push_str("connection: close\r\n\r\n");
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    counter.fetch_add(1, Ordering::SeqCst);
    let mut upstream = TcpStream::connect(host)?;
    upstream.write_all(head.as_bytes())?;
    upstream.write_all(&body)?;
    let mut answer = Vec::new();
    upstream.read_to_end(&mut answer)?;
    // The client may not reuse this connection: say so in the answer it reads.
    let text = String::from_utf8_lossy(&answer).into_owned();
    let text = text.replacen("\r\n", "\r\nconnection: close\r\n", 1);
    let mut client = client;
    client.write_all(text.as_bytes())?;
    client.flush()
}

fn set_env(name: &str, value: Option<&str>) {
    for n in [name.to_string(), name.to_ascii_lowercase()] {
        match value {
            Some(v) => std::env::set_var(&n, v),
            None => std::env::remove_var(&n),
        }
    }
}

#[tokio::test]
async fn proxies_from_the_environment_and_explicit_ones() {
    let server = Server::start();
    let forward = ForwardProxy::start();
    for v in ["HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"] {
        set_env(v, None);
    }
    set_env("HTTP_PROXY", Some(&forward.url));

    // HTTP_PROXY: every call goes through the proxy.
    let client = server.client();
    let u = user();
    client.add_credits(u, 5, "via proxy", None).await.unwrap();
    assert_eq!(client.get_balance(u).await.unwrap().unwrap().credits, 5);
    assert_eq!(forward.count(), 2);

    // NO_PROXY covering the server's host: direct.
    set_env("NO_PROXY", Some("127.0.0.1"));
    let client = server.client();
    client.get_balance(u).await.unwrap();
    assert_eq!(forward.count(), 2, "NO_PROXY bypasses the proxy");

    // An explicit proxy overrides NO_PROXY ...
    let client = Client::new(
        server
            .config()
            .proxy(Proxy::Url(forward.url.clone()))
            .build()
            .unwrap(),
    )
    .unwrap();
    client.get_balance(u).await.unwrap();
    assert_eq!(forward.count(), 3);

    // ... and Direct overrides HTTP_PROXY.
    set_env("NO_PROXY", None);
    let client = Client::new(server.config().proxy(Proxy::Direct).build().unwrap()).unwrap();
    client.get_balance(u).await.unwrap();
    assert_eq!(forward.count(), 3, "direct ignores HTTP_PROXY");
    set_env("HTTP_PROXY", None);

    // A proxy that is not a URL is refused when the client is built.
    let e = server
        .config()
        .proxy(Proxy::Url("socks9://x".into()))
        .build()
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(Proxy::from_option(Some("")), Proxy::Direct);
    assert_eq!(Proxy::from_option(None), Proxy::FromEnv);

    // ca_file: a PEM bundle loads; a missing or non-PEM file is a clear invalid_argument.
    let pem = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/test-ca.pem");
    let client = Client::new(server.config().ca_file(pem).build().unwrap()).unwrap();
    client.get_balance(u).await.unwrap();
    let missing = Client::new(
        server
            .config()
            .ca_file("/nonexistent/ca.pem")
            .build()
            .unwrap(),
    )
    .unwrap_err();
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert!(
        missing.to_string().contains("/nonexistent/ca.pem"),
        "{missing}"
    );
    let not_pem = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let bad = Client::new(server.config().ca_file(not_pem).build().unwrap()).unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.to_string().contains("ca_file"), "{bad}");
}
