"""The official `standardwebhooks` package (PyPI) verifies every delivery the real
server sends, including during a rotation with two secrets. A loopback receiver
(stdlib http.server) fails each event's first attempt, so retries are checked too."""

import base64
import json
import pathlib
import re
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

from conftest import server_bin

OLD = "whsec_" + base64.b64encode(b"the-old-secret-of-the-rotation!!").decode()
NEW = "whsec_" + base64.b64encode(b"the-new-secret-of-the-rotation!!").decode()


def test_standardwebhooks_verifies_every_attempt_with_either_rotated_secret():
    received = []
    seen = set()

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["content-length"]))
            headers = {k.lower(): v for k, v in self.headers.items()}
            received.append((headers, body))
            first = headers["webhook-id"] not in seen
            seen.add(headers["webhook-id"])
            self.send_response(500 if first else 200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{hook.server_address[1]}/hook"
    with tempfile.TemporaryDirectory(prefix="credit-sync-py-hooks-") as tmp:
        cfg = pathlib.Path(tmp) / "server.toml"
        db = pathlib.Path(tmp) / "credit-sync.db"
        cfg.write_text(
            f'listen = "127.0.0.1:0"\ndatabase = "sqlite://{db}"\n\n'
            "[webhook_delivery]\nfirst_retry_ms = 10\nmax_retry_ms = 50\n"
            "attempt_timeout_ms = 1000\npoll_ms = 100\nlease_ms = 3000\n\n"
            f'[[webhooks]]\nurl = "{url}"\nsecrets = ["{OLD}", "{NEW}"]\n'
        )
        proc = subprocess.Popen(
            [server_bin(), "serve", "--config", str(cfg)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert re.search(r"listening on http://", proc.stdout.readline())
            # Users registered by the admin command (another process): `user.registered`.
            for telegram_id in (1, 2, 3):
                subprocess.run(
                    [server_bin(), "users", "add", str(telegram_id), "--config", str(cfg)],
                    check=True,
                    capture_output=True,
                    timeout=30,
                )
            deadline = time.time() + 20
            while len([1 for _, b in received if b]) < 6 and time.time() < deadline:
                time.sleep(0.05)
        finally:
            proc.terminate()
            proc.wait(timeout=15)
            hook.shutdown()
    assert len(received) == 6, received
    ids = []
    for headers, body in received:
        for secret in (OLD, NEW):
            event = Webhook(secret).verify(body, headers)
            assert event["id"] == headers["webhook-id"]
            assert event["type"] == "user.registered"
        ids.append(headers["webhook-id"])
    # Each event twice (the 500, then the retry), in order.
    assert ids[0::2] == ids[1::2]
    telegram_ids = [json.loads(b)["telegram_id"] for _, b in received[0::2]]
    assert telegram_ids == [1, 2, 3]
