"""A tiny HTTP server that answers what a test tells it to, for the error paths
the real server never takes (timeouts, garbage, 5xx, codes from the future)."""

import http.server
import json
import socket
import threading
import time
from typing import Any, Optional


class FakeServer:
    def __init__(self, status: int = 200, body: Any = None, delay: float = 0.0, raw: Optional[bytes] = None):
        self.status, self.body, self.delay, self.raw = status, body, delay, raw
        self.requests = 0
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                fake.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if fake.delay:
                    time.sleep(fake.delay)
                payload = fake.raw if fake.raw is not None else json.dumps(fake.body).encode()
                try:
                    self.send_response(fake.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


def error_body(code: str, message: str = "fake") -> dict:
    return {"success": False, "code": code, "message": message, "balance": None, "data": None}
