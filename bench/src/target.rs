//! The server under load: one given by URL, or one the bench starts itself on
//! a free loopback port with a throwaway database (and stops when done).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

pub struct Target {
    base_url: String,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl Target {
    pub fn remote(base_url: String) -> Target {
        Target {
            base_url: base_url.trim_end_matches('/').to_string(),
            child: None,
            _dir: None,
        }
    }

    /// Starts `server_bin serve` with one admin source holding the bench's credentials.
    pub fn spawn(
        server_bin: &str,
        database: Option<&str>,
        api_key: &str,
        secret: &str,
        source: &str,
    ) -> Result<Target, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let database = database
            .map(str::to_string)
            .unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.path().display()));
        let config = dir.path().join("bench.toml");
        let mut file = std::fs::File::create(&config)?;
        writeln!(
            file,
            "listen = \"127.0.0.1:0\"\ndatabase = {database:?}\n\n[[sources]]\nname = {source:?}\napi_key = {api_key:?}\nsecret = {secret:?}\npermissions = [\"read\", \"write\", \"admin\"]\n"
        )?;
        let mut child = Command::new(server_bin)
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {server_bin}: {e} (build it with `cargo build --release -p credit-sync-server`)"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        // Keep draining stdout so a later line never meets a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let base_url = line
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_string();
        if !base_url.starts_with("http") {
            let _ = child.kill();
            return Err(format!("server did not report its address (got {line:?})").into());
        }
        Ok(Target {
            base_url,
            child: Some(child),
            _dir: Some(dir),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
