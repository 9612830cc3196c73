//! The guide's hand-written Python HTTP snippet ("Way 2"), unchanged except for
//! `API_URL` and the keys, runs against the real server (skipped without python3 + requests).

mod support;

use std::process::Command;
use support::*;

const SNIPPET: &str = r#"
import requests, time, hmac, hashlib

API_URL = "https://api.yourdomain.com/api/credits/sync"
API_KEY = "your-api-key"
SECRET = "your-secret-key"
SOURCE = "media_bot"

def generate_token(telegram_id, amount, timestamp):
    """generate the verification token"""
    message = f"{telegram_id}:{amount}:{SOURCE}:{timestamp}"
    return hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()

def sync_credits(telegram_id, amount, reason):
    """sync credits"""
    timestamp = int(time.time())
    token = generate_token(telegram_id, amount, timestamp)
    response = requests.post(
        API_URL,
        json={
            "telegram_id": telegram_id,
            "amount": amount,
            "source": SOURCE,
            "reason": reason,
            "timestamp": timestamp,
            "token": token
        },
        headers={"X-Api-Key": API_KEY}
    )
    return response.json()

result = sync_credits(123456789, 100, "测试奖励")
print(result)
"#;

fn python_with_requests() -> bool {
    Command::new("python3")
        .args(["-c", "import requests"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test]
async fn the_guides_python_snippet_runs_unchanged() {
    if !python_with_requests() {
        eprintln!("skipped: python3 with requests is not available");
        return;
    }
    let server = Server::start();
    let script = SNIPPET
        .replace("https://api.yourdomain.com", &server.url)
        .replace("\"your-api-key\"", &format!("\"{}\"", ADMIN.1))
        .replace("\"your-secret-key\"", &format!("\"{}\"", ADMIN.2));
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("'success': True"), "{printed}");
    assert!(printed.contains("'balance': 100"), "{printed}");
    assert_eq!(server.admin().balance(123456789).await, Some(100));
}
