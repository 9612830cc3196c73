//! A webhook receiver on loopback: a real HTTP/1.1 listener that records every delivery
//! (its path, headers and body, when it came) and answers each as the test's [`Plan`]
//! says: a status, a stall past the sender's timeout, or a connection dropped without an
//! answer. Plain tokio sockets, so a "dropped connection" is exactly that.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request the receiver read.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    /// Lower-case names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// Unix seconds at receipt.
    pub at_secs: i64,
    /// Which attempt of this `webhook-id` on this path it was (1-based).
    pub attempt: u32,
    pub answer: Answer,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn id(&self) -> &str {
        self.header("webhook-id").unwrap_or_default()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Status(u16),
    /// Answer this status after this long (a slow receiver).
    After(Duration, u16),
    /// Hold the connection this long, then close it without answering.
    Stall(Duration),
    /// Close the connection at once without answering.
    Drop,
}

impl Answer {
    pub fn is_success(self) -> bool {
        matches!(self, Answer::Status(s) | Answer::After(_, s) if (200..300).contains(&s))
    }
}

/// The answer for a request on `path` that is `attempt` of its `webhook-id` there.
pub type Plan = Arc<dyn Fn(&str, u32) -> Answer + Send + Sync>;

#[derive(Clone)]
pub struct Receiver {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// Listens on `127.0.0.1:0` until the runtime ends.
    pub async fn start(plan: impl Fn(&str, u32) -> Answer + Send + Sync + 'static) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let addr = listener.local_addr().expect("the receiver's address");
        let received = Arc::new(Mutex::new(Vec::new()));
        let plan: Plan = Arc::new(plan);
        let log = received.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, plan.clone(), log.clone()));
            }
        });
        Receiver { addr, received }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The requests on `path`.
    pub fn on(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// The requests on `path` answered with a 2xx, in arrival order.
    pub fn delivered(&self, path: &str) -> Vec<Received> {
        self.on(path)
            .into_iter()
            .filter(|r| r.answer.is_success())
            .collect()
    }

    /// Waits until `done(self)` holds, at most `limit`; returns whether it did.
    pub async fn wait_for(&self, limit: Duration, done: impl Fn(&Receiver) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if done(self) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        done(self)
    }
}

/// Reads requests on one connection (keep-alive) and answers each as planned.
async fn serve(mut stream: TcpStream, plan: Plan, log: Arc<Mutex<Vec<Received>>>) {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let path = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .unwrap_or_default()
            .to_string();
        let headers: HashMap<String, String> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = buf[head_end..head_end + length].to_vec();
        buf.drain(..head_end + length);
        let id = headers.get("webhook-id").cloned().unwrap_or_default();
        let answer = {
            let mut log = log.lock().unwrap();
            let attempt = 1 + log
                .iter()
                .filter(|r| r.path == path && r.id() == id)
                .count() as u32;
            let answer = plan(&path, attempt);
            let at_secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
            log.push(Received {
                path,
                headers,
                body,
                at_secs,
                attempt,
                answer,
            });
            answer
        };
        if let Answer::After(pause, _) = answer {
            tokio::time::sleep(pause).await;
        }
        match answer {
            Answer::Status(status) | Answer::After(_, status) => {
                let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
                if stream.write_all(reply.as_bytes()).await.is_err() {
                    return;
                }
            }
            Answer::Stall(pause) => {
                tokio::time::sleep(pause).await;
                return;
            }
            Answer::Drop => return,
        }
    }
}
