//! A fault-injecting HTTP/1.1 proxy on loopback. It sits between a client and the
//! server and, request by request, makes the failures a real network makes: the
//! answer lost after the server committed, a reset mid-request, a stall past the
//! client's timeout, a 502 or 503 from a gateway that never forwarded, or any scripted
//! status and body in the server's place (the SDK's retry tests).
//!
//! Each request the proxy reads is one *exchange*, numbered from 0 in arrival order.
//! Its [`Fault`] comes from the queue filled by [`Proxy::push_next`] when that is not
//! empty, else from the [`Schedule`]. Every forwarded request gets its own upstream
//! connection (`Connection: close`), so "the server answered" is exact; the client
//! side stays keep-alive until a fault closes it. Request bodies must carry a
//! `Content-Length` (the SDK and reqwest send one).

use socket2::SockRef;
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Largest request or response head the proxy reads.
const MAX_HEAD: usize = 256 * 1024;
/// An idle client connection or a silent upstream is given up after this long.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// What the proxy does with one request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Forward it and return the answer.
    Pass,
    /// Forward it, read the whole answer (the server has committed), then reset the
    /// client connection without answering.
    DropResponse,
    /// Like [`Fault::DropResponse`], but an orderly close (FIN) instead of a reset: the
    /// client reads end-of-stream where the answer should be.
    CloseBeforeResponse,
    /// Forward the head and half of the body (half the head when there is no body),
    /// then reset both connections: the server never sees a complete request.
    ResetMidRequest,
    /// Forward it, read the answer, and hold it this long before closing the client
    /// connection without it. Longer than the client's timeout, the client gives up
    /// while the change is applied.
    Stall(Duration),
    /// Answer `502 Bad Gateway` (an HTML page, as nginx does) without forwarding.
    BadGateway,
    /// Answer `503 Service Unavailable` (the protocol's JSON envelope) without forwarding.
    Unavailable,
    /// Answer this status, body and extra headers (`content-type: application/json`
    /// unless one is given) without forwarding. [`Fault::respond`] builds it.
    Respond {
        status: u16,
        body: String,
        headers: Vec<(String, String)>,
    },
    /// Read the request and never answer (until the proxy is dropped); nothing is
    /// forwarded.
    Hang,
}

impl Fault {
    /// Answer `status` with `body` in the server's place.
    pub fn respond(status: u16, body: impl Into<String>) -> Fault {
        Fault::Respond {
            status,
            body: body.into(),
            headers: Vec::new(),
        }
    }

    /// [`Fault::respond`] with an extra header (e.g. `Retry-After`).
    pub fn with_header(mut self, name: &str, value: &str) -> Fault {
        if let Fault::Respond { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }

    /// Did the server receive the complete request?
    pub fn reaches_server(&self) -> bool {
        matches!(
            self,
            Fault::Pass | Fault::DropResponse | Fault::CloseBeforeResponse | Fault::Stall(_)
        )
    }
}

/// A JSON error envelope as the server sends it, for [`Fault::respond`]; `extra` is
/// appended inside the object (e.g. `,"server_time":1`).
pub fn error_body(code: &str, extra: &str) -> String {
    format!(
        r#"{{"success":false,"code":"{code}","message":"injected {code}","balance":null,"data":null{extra}}}"#
    )
}

/// Which [`Fault`] exchange `n` (counted from 0) gets.
#[derive(Clone)]
pub struct Schedule(Arc<dyn Fn(u64) -> Fault + Send + Sync>);

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Schedule(..)")
    }
}

impl Schedule {
    /// Every exchange gets `fault`.
    pub fn always(fault: Fault) -> Schedule {
        Schedule(Arc::new(move |_| fault.clone()))
    }

    /// Every `n`th exchange (the `n`th, `2n`th, ...) gets `fault`; the others pass.
    pub fn every_nth(n: u64, fault: Fault) -> Schedule {
        assert!(n > 0, "every_nth needs n > 0");
        Schedule(Arc::new(move |i| {
            if i % n == n - 1 {
                fault.clone()
            } else {
                Fault::Pass
            }
        }))
    }

    /// Exchange `i` gets `faults[i % len]`.
    pub fn cycle(faults: Vec<Fault>) -> Schedule {
        assert!(!faults.is_empty(), "cycle needs at least one fault");
        Schedule(Arc::new(move |i| {
            faults[(i % faults.len() as u64) as usize].clone()
        }))
    }

    pub fn from_fn(f: impl Fn(u64) -> Fault + Send + Sync + 'static) -> Schedule {
        Schedule(Arc::new(f))
    }

    pub fn fault_for(&self, exchange: u64) -> Fault {
        (self.0)(exchange)
    }
}

/// What happened to one request, for assertions.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub index: u64,
    pub fault: Fault,
    /// When the proxy had read the whole request.
    pub at: Instant,
    pub method: String,
    pub target: String,
    /// The status the server (or the proxy itself, for 502/503) answered, when there was one.
    pub status: Option<u16>,
    /// The `Retry-After` header of that answer.
    pub retry_after: Option<String>,
    /// Did the client receive the answer?
    pub delivered: bool,
}

struct Shared {
    upstream: Mutex<SocketAddr>,
    schedule: Mutex<Schedule>,
    next: Mutex<VecDeque<Fault>>,
    counter: AtomicU64,
    /// Every request read, as text (head and body), in arrival order.
    requests: Mutex<Vec<String>>,
    log: Mutex<Vec<Exchange>>,
    stop: AtomicBool,
}

/// The proxy. It listens on `127.0.0.1:<free port>` until dropped.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("addr", &self.addr)
            .field("upstream", &self.upstream())
            .field("exchanges", &self.shared.counter.load(Ordering::SeqCst))
            .finish()
    }
}

impl Proxy {
    /// Starts a proxy to `upstream` that passes everything until told otherwise.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream: Mutex::new(upstream),
            schedule: Mutex::new(Schedule::always(Fault::Pass)),
            next: Mutex::new(VecDeque::new()),
            counter: AtomicU64::new(0),
            requests: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let accept_shared = shared.clone();
        let accept = std::thread::Builder::new()
            .name("fault-proxy-accept".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if accept_shared.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let shared = accept_shared.clone();
                    let _ = std::thread::Builder::new()
                        .name("fault-proxy-conn".into())
                        .spawn(move || serve_client(conn, &shared));
                }
            })
            .expect("spawn the proxy");
        Proxy {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:PORT`: give this to the client instead of the server's URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn upstream(&self) -> SocketAddr {
        *self.shared.upstream.lock().unwrap()
    }

    /// Points later requests at another server (e.g. after a restart on a new port).
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *self.shared.upstream.lock().unwrap() = upstream;
    }

    pub fn set_schedule(&self, schedule: Schedule) {
        *self.shared.schedule.lock().unwrap() = schedule;
    }

    /// Every later request gets `fault` (the queue of [`Proxy::push_next`] first).
    pub fn set_fault(&self, fault: Fault) {
        self.set_schedule(Schedule::always(fault));
    }

    /// The next request (after those already queued) gets `fault`, whatever the schedule says.
    pub fn push_next(&self, fault: Fault) {
        self.shared.next.lock().unwrap().push_back(fault);
    }

    /// [`Proxy::push_next`] for each of `faults`, in order: a script.
    pub fn push_script(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.next.lock().unwrap().extend(faults);
    }

    /// Every request the proxy has read, as text (head and body), in arrival order.
    pub fn requests(&self) -> Vec<String> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// How many requests the proxy has read so far.
    pub fn exchange_count(&self) -> u64 {
        self.shared.counter.load(Ordering::SeqCst)
    }

    /// Waits (at most `limit`) until every request read so far has finished and been
    /// logged: the client may see an answer a moment before the proxy logs it.
    pub fn settle(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.shared.log.lock().unwrap().len() < self.exchange_count() as usize
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Every exchange so far, in the order they finished.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.shared.log.lock().unwrap().clone()
    }

    /// How many finished exchanges got `fault`.
    pub fn count(&self, fault: &Fault) -> usize {
        self.shared
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|e| &e.fault == fault)
            .count()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// One parsed HTTP/1.1 request or response: its head (without the final blank line)
/// and its body bytes.
struct Message {
    head: String,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The head with the `Connection`/`Keep-Alive` headers removed (and the first line kept).
    fn head_without_connection(&self) -> String {
        let mut out = String::new();
        for (i, line) in self.head.split("\r\n").enumerate() {
            if i > 0 {
                let name = line.split(':').next().unwrap_or("").trim();
                if name.eq_ignore_ascii_case("connection")
                    || name.eq_ignore_ascii_case("keep-alive")
                {
                    continue;
                }
                out.push_str("\r\n");
            }
            out.push_str(line);
        }
        out
    }
}

/// Reads one request from a keep-alive client connection. `Ok(None)` on a clean close.
fn read_request(conn: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Option<Message>> {
    let head_end = loop {
        if let Some(pos) = find(buf, b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::other("request head too large for the proxy"));
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut msg = Message {
        head,
        body: Vec::new(),
    };
    let len: usize = msg
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let body_start = head_end + 4;
    while buf.len() < body_start + len {
        let mut chunk = [0u8; 64 * 1024];
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    msg.body = buf[body_start..body_start + len].to_vec();
    buf.drain(..body_start + len);
    Ok(Some(msg))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Closes with RST instead of FIN: the peer sees "connection reset".
fn reset(conn: &TcpStream) {
    let _ = SockRef::from(conn).set_linger(Some(Duration::ZERO));
    let _ = conn.shutdown(Shutdown::Both);
}

fn serve_client(mut client: TcpStream, shared: &Shared) {
    let _ = client.set_read_timeout(Some(IO_TIMEOUT));
    let _ = client.set_nodelay(true);
    let mut buf = Vec::new();
    loop {
        let request = match read_request(&mut client, &mut buf) {
            Ok(Some(r)) => r,
            _ => return,
        };
        let (index, fault) = {
            // One lock for the index and the text, so both follow arrival order.
            let mut requests = shared.requests.lock().unwrap();
            let index = shared.counter.fetch_add(1, Ordering::SeqCst);
            requests.push(format!(
                "{}\r\n\r\n{}",
                request.head,
                String::from_utf8_lossy(&request.body)
            ));
            let queued = shared.next.lock().unwrap().pop_front();
            (
                index,
                queued.unwrap_or_else(|| shared.schedule.lock().unwrap().fault_for(index)),
            )
        };
        let mut first = request.head.split("\r\n").next().unwrap_or("").split(' ');
        let mut exchange = Exchange {
            index,
            fault: fault.clone(),
            at: Instant::now(),
            method: first.next().unwrap_or("").to_string(),
            target: first.next().unwrap_or("").to_string(),
            status: None,
            retry_after: None,
            delivered: false,
        };
        let client_wants_close = request
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let keep_open = handle(&mut client, &request, fault, shared, &mut exchange);
        shared.log.lock().unwrap().push(exchange);
        if !keep_open || client_wants_close {
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// Applies `fault` to one request; returns whether the client connection stays open.
fn handle(
    client: &mut TcpStream,
    request: &Message,
    fault: Fault,
    shared: &Shared,
    exchange: &mut Exchange,
) -> bool {
    let upstream_request = || {
        let mut bytes = request.head_without_connection().into_bytes();
        bytes.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
        let head_len = bytes.len();
        bytes.extend_from_slice(&request.body);
        (bytes, head_len)
    };
    match fault {
        Fault::Respond {
            status,
            body,
            headers,
        } => {
            exchange.status = Some(status);
            exchange.delivered = answer_with(client, status, &headers, &body);
            exchange.delivered
        }
        Fault::Hang => {
            while !shared.stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
            false
        }
        Fault::BadGateway => {
            let body = "<html><head><title>502 Bad Gateway</title></head>\
                        <body><center><h1>502 Bad Gateway</h1></center></body></html>";
            exchange.status = Some(502);
            exchange.delivered = answer(client, "502 Bad Gateway", "text/html", body);
            false
        }
        Fault::Unavailable => {
            let body = r#"{"success":false,"code":"service_unavailable","message":"fault proxy: upstream unavailable","balance":null,"data":null}"#;
            exchange.status = Some(503);
            exchange.delivered =
                answer(client, "503 Service Unavailable", "application/json", body);
            false
        }
        Fault::ResetMidRequest => {
            let (bytes, head_len) = upstream_request();
            let cut = if request.body.is_empty() {
                head_len / 2
            } else {
                head_len + request.body.len() / 2
            };
            let upstream_addr = *shared.upstream.lock().unwrap();
            if let Ok(mut upstream) = TcpStream::connect_timeout(&upstream_addr, IO_TIMEOUT) {
                let _ = upstream.write_all(&bytes[..cut]);
                let _ = upstream.flush();
                // Let the partial request reach the server before the reset does.
                std::thread::sleep(Duration::from_millis(5));
                reset(&upstream);
            }
            reset(client);
            false
        }
        Fault::Pass | Fault::DropResponse | Fault::CloseBeforeResponse | Fault::Stall(_) => {
            let (bytes, _) = upstream_request();
            let upstream_addr = *shared.upstream.lock().unwrap();
            let response = match forward(upstream_addr, &bytes) {
                Ok(r) => r,
                Err(_) => {
                    // The server is down (or died mid-answer): say so as a gateway would.
                    exchange.status = Some(502);
                    exchange.delivered = answer(
                        client,
                        "502 Bad Gateway",
                        "text/plain",
                        "fault proxy: upstream unreachable",
                    );
                    return false;
                }
            };
            exchange.status = response.head.split(' ').nth(1).and_then(|s| s.parse().ok());
            exchange.retry_after = response.header("retry-after").map(str::to_string);
            match fault {
                Fault::DropResponse => {
                    reset(client);
                    false
                }
                Fault::CloseBeforeResponse => {
                    let _ = client.shutdown(Shutdown::Both);
                    false
                }
                Fault::Stall(d) => {
                    let until = Instant::now() + d;
                    while Instant::now() < until && !shared.stop.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(10).min(d));
                    }
                    reset(client);
                    false
                }
                _ => {
                    // Keep the client connection alive when the answer is framed; the
                    // server said `close` only because the proxy asked it to.
                    let framed = response.header("content-length").is_some()
                        || response
                            .header("transfer-encoding")
                            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
                    let head = if framed {
                        response.head_without_connection()
                    } else {
                        response.head.clone()
                    };
                    let mut out = head.into_bytes();
                    out.extend_from_slice(b"\r\n\r\n");
                    out.extend_from_slice(&response.body);
                    exchange.delivered =
                        client.write_all(&out).and_then(|_| client.flush()).is_ok();
                    exchange.delivered && framed
                }
            }
        }
    }
}

/// Sends one request on a fresh connection and reads the answer until the server closes.
fn forward(upstream: SocketAddr, request: &[u8]) -> io::Result<Message> {
    let mut conn = TcpStream::connect_timeout(&upstream, Duration::from_secs(5))?;
    conn.set_read_timeout(Some(IO_TIMEOUT))?;
    conn.set_nodelay(true)?;
    conn.write_all(request)?;
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw)?;
    let head_end = find(&raw, b"\r\n\r\n").ok_or_else(|| io::Error::other("no response head"))?;
    Ok(Message {
        head: String::from_utf8_lossy(&raw[..head_end]).into_owned(),
        body: raw[head_end + 4..].to_vec(),
    })
}

/// Writes a scripted answer (keep-alive, so a client may reuse the connection); returns
/// whether it was written.
fn answer_with(
    client: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &str,
) -> bool {
    let mut head = format!(
        "HTTP/1.1 {status} Scripted\r\ncontent-length: {}\r\n",
        body.len()
    );
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        head.push_str("content-type: application/json\r\n");
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    client
        .write_all(head.as_bytes())
        .and_then(|_| client.write_all(body.as_bytes()))
        .and_then(|_| client.flush())
        .is_ok()
}

/// Writes a complete answer made up by the proxy; returns whether it was written.
fn answer(client: &mut TcpStream, status: &str, content_type: &str, body: &str) -> bool {
    let text = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    client
        .write_all(text.as_bytes())
        .and_then(|_| client.flush())
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A stand-in upstream that counts the complete requests it received ("commits").
    struct Upstream {
        addr: SocketAddr,
        commits: Arc<AtomicUsize>,
    }

    fn upstream() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let commits = Arc::new(AtomicUsize::new(0));
        let c = commits.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let c = c.clone();
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    if let Ok(Some(req)) = read_request(&mut conn, &mut buf) {
                        c.fetch_add(1, Ordering::SeqCst);
                        let body = format!("got {}", req.body.len());
                        let _ = write!(
                            conn,
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nretry-after: 7\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                    }
                });
            }
        });
        Upstream { addr, commits }
    }

    /// Sends one request; `Ok(text)` with the whole answer, `Err` when the connection broke.
    fn send(conn: &mut TcpStream, body: &str) -> io::Result<String> {
        write!(
            conn,
            "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )?;
        let mut buf = Vec::new();
        let msg = read_request(conn, &mut buf)?.ok_or(io::ErrorKind::UnexpectedEof)?;
        Ok(format!(
            "{}|{}",
            msg.head.lines().next().unwrap_or(""),
            String::from_utf8_lossy(&msg.body)
        ))
    }

    fn wait_for(n: usize, counter: &AtomicUsize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while counter.load(Ordering::SeqCst) < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn each_fault_does_what_it_says() {
        let up = upstream();
        let proxy = Proxy::start(up.addr);
        let connect = || {
            let c = TcpStream::connect(proxy.addr()).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            c
        };

        // Pass, twice on one keep-alive connection.
        let mut c = connect();
        assert_eq!(send(&mut c, "hello").unwrap(), "HTTP/1.1 200 OK|got 5");
        assert_eq!(send(&mut c, "hi").unwrap(), "HTTP/1.1 200 OK|got 2");
        assert_eq!(up.commits.load(Ordering::SeqCst), 2);

        // Drop after commit: the server saw it, the client gets nothing.
        proxy.push_next(Fault::DropResponse);
        assert!(send(&mut c, "drop").is_err());
        wait_for(3, &up.commits);
        assert_eq!(up.commits.load(Ordering::SeqCst), 3);

        // Reset mid-request: the server never sees a complete request.
        proxy.push_next(Fault::ResetMidRequest);
        assert!(send(&mut connect(), "reset-me-please").is_err());
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(up.commits.load(Ordering::SeqCst), 3);

        // 502 and 503 without forwarding.
        proxy.push_next(Fault::BadGateway);
        proxy.push_next(Fault::Unavailable);
        assert!(send(&mut connect(), "x")
            .unwrap()
            .starts_with("HTTP/1.1 502 Bad Gateway|<html>"));
        assert!(send(&mut connect(), "x").unwrap().contains(
            "503 Service Unavailable|{\"success\":false,\"code\":\"service_unavailable\""
        ));
        assert_eq!(up.commits.load(Ordering::SeqCst), 3);

        // Stall past the client's timeout: committed, no answer in time.
        proxy.push_next(Fault::Stall(Duration::from_millis(400)));
        let mut c = connect();
        c.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let started = Instant::now();
        assert!(send(&mut c, "slow").is_err());
        assert!(started.elapsed() < Duration::from_millis(350));
        wait_for(4, &up.commits);
        assert_eq!(up.commits.load(Ordering::SeqCst), 4);

        std::thread::sleep(Duration::from_millis(450));
        let log = proxy.exchanges();
        assert_eq!(log.len(), 7);
        assert_eq!(proxy.count(&Fault::Pass), 2);
        assert_eq!(proxy.count(&Fault::DropResponse), 1);
        let pass = log.iter().find(|e| e.fault == Fault::Pass).unwrap();
        assert_eq!(
            (pass.status, pass.retry_after.as_deref()),
            (Some(200), Some("7"))
        );
        assert!(pass.delivered);
        assert_eq!(pass.method, "POST");
        assert_eq!(pass.target, "/x");
    }

    #[test]
    fn scripted_answers_and_an_orderly_close() {
        let up = upstream();
        let proxy = Proxy::start(up.addr);
        proxy.push_script([
            Fault::respond(429, error_body("rate_limited", "")).with_header("retry-after", "1"),
            Fault::respond(200, "hello").with_header("content-type", "text/plain"),
            Fault::CloseBeforeResponse,
        ]);
        let mut c = TcpStream::connect(proxy.addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let limited = send(&mut c, "a").unwrap();
        assert!(limited.starts_with("HTTP/1.1 429"), "{limited}");
        assert!(limited.contains("\"code\":\"rate_limited\""), "{limited}");
        // Scripted answers keep the connection alive.
        assert_eq!(send(&mut c, "b").unwrap(), "HTTP/1.1 200 Scripted|hello");
        assert_eq!(up.commits.load(Ordering::SeqCst), 0);
        assert!(send(&mut c, "c").is_err());
        wait_for(1, &up.commits);
        assert_eq!(up.commits.load(Ordering::SeqCst), 1);
        let requests = proxy.requests();
        assert_eq!(requests.len(), 3);
        assert!(requests[1].starts_with("POST /x HTTP/1.1\r\n"));
        assert!(requests[1].ends_with("\r\n\r\nb"));
    }

    #[test]
    fn a_hang_forwards_nothing_and_never_answers() {
        let up = upstream();
        let proxy = Proxy::start(up.addr);
        proxy.push_next(Fault::Hang);
        let mut c = TcpStream::connect(proxy.addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        assert!(send(&mut c, "x").is_err());
        assert_eq!(proxy.exchange_count(), 1);
        assert_eq!(up.commits.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn schedules() {
        let s = Schedule::every_nth(3, Fault::BadGateway);
        let got: Vec<Fault> = (0..6).map(|i| s.fault_for(i)).collect();
        assert_eq!(
            got,
            [
                Fault::Pass,
                Fault::Pass,
                Fault::BadGateway,
                Fault::Pass,
                Fault::Pass,
                Fault::BadGateway
            ]
        );
        let s = Schedule::cycle(vec![Fault::Unavailable, Fault::Pass]);
        assert_eq!(s.fault_for(4), Fault::Unavailable);
        assert_eq!(s.fault_for(5), Fault::Pass);

        let up = upstream();
        let proxy = Proxy::start(up.addr);
        proxy.set_schedule(Schedule::every_nth(2, Fault::Unavailable));
        let mut statuses = Vec::new();
        for _ in 0..4 {
            let mut c = TcpStream::connect(proxy.addr()).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            statuses.push(send(&mut c, "x").unwrap()[9..12].to_string());
        }
        assert_eq!(statuses, ["200", "503", "200", "503"]);
        assert_eq!(up.commits.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_dead_upstream_is_a_502() {
        let dead = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let proxy = Proxy::start(dead);
        let mut c = TcpStream::connect(proxy.addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert!(send(&mut c, "x").unwrap().starts_with("HTTP/1.1 502"));
    }
}
