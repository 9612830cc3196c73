//! One signed HTTP attempt: headers, v2 signature, send, read the whole answer.
//! It knows nothing of retries; it reports what happened so `retry` can decide.

use crate::config::{Config, Proxy};
use crate::error::Error;
use crate::protocol::headers;
use crate::signature;
use std::time::Duration;

/// An answer the server (or something in between) gave.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub retry_after: Option<Duration>,
    /// The server's `X-Request-Id`, reported with a failed write so logs can be matched.
    pub request_id: Option<String>,
    pub body: Vec<u8>,
}

/// The pooled HTTP connection and the credentials that sign every attempt.
pub struct Transport {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
    secret_key: String,
}

/// `GET` or `POST`, the only methods of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

impl Transport {
    /// The HTTP client for `config`. Timeouts are the caller's (`client::call` bounds each
    /// attempt and the whole call), so reqwest gets only the connect timeout.
    pub fn new(config: &Config) -> Result<Transport, Error> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .user_agent(config.user_agent.clone())
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_keepalive(Duration::from_secs(30))
            .tcp_nodelay(true);
        builder = match &config.proxy {
            // reqwest reads HTTP(S)_PROXY, ALL_PROXY and NO_PROXY by default.
            Proxy::FromEnv => builder,
            Proxy::Direct => builder.no_proxy(),
            Proxy::Url(url) => builder.proxy(reqwest::Proxy::all(url).map_err(|e| {
                Error::invalid_argument(format!("proxy is not a usable proxy URL: {e}"))
            })?),
        };
        if let Some(path) = &config.ca_file {
            builder = builder.tls_certs_merge(read_ca_file(path)?);
        }
        let http = builder
            .build()
            .map_err(|e| Error::invalid_argument(format!("cannot build the HTTP client: {e}")))?;
        Ok(Transport {
            http,
            base_url: config.base_url.clone(),
            api_key: config.api_key.clone(),
            secret_key: config.secret_key.clone(),
        })
    }

    /// Sends one request signed (v2) at `timestamp` and reads the whole body.
    /// `Err` means no answer arrived: a connect error, a timeout or a broken connection.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
        timestamp: i64,
    ) -> Result<RawResponse, Error> {
        let bytes = body.as_deref().unwrap_or_default();
        let sig = signature::v2_header(
            &self.secret_key,
            timestamp,
            method.as_str(),
            path_and_query,
            bytes,
        );
        let url = format!("{}{}", self.base_url, path_and_query);
        let mut req = match method {
            Method::Get => self.http.get(&url),
            Method::Post => self.http.post(&url),
        }
        .header(headers::API_KEY, &self.api_key)
        .header(headers::SIGNATURE, sig)
        .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let resp = req.send().await.map_err(transport_error)?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(headers::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::retry::parse_retry_after);
        let request_id = resp
            .headers()
            .get(headers::REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp.bytes().await.map_err(transport_error)?.to_vec();
        Ok(RawResponse {
            status,
            retry_after,
            request_id,
            body,
        })
    }
}

/// The certificates of a PEM bundle, or an `invalid_argument` error naming the file.
fn read_ca_file(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, Error> {
    let pem = std::fs::read(path).map_err(|e| {
        Error::invalid_argument(format!("ca_file {}: cannot read it: {e}", path.display()))
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        Error::invalid_argument(format!("ca_file {}: not a PEM bundle: {e}", path.display()))
    })?;
    if certs.is_empty() {
        return Err(Error::invalid_argument(format!(
            "ca_file {}: holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// Maps a reqwest failure to the SDK error, with the whole cause chain in the message
/// (reqwest's own text is just "error sending request").
fn transport_error(e: reqwest::Error) -> Error {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    if e.is_timeout() {
        Error::Timeout { message }
    } else if e.is_builder() {
        Error::invalid_argument(message)
    } else {
        Error::Transport { message }
    }
}
