"""Starts the real credit-sync server for the suite: port 0, a temporary SQLite
database, and the guide's credentials (see docs/server.md for the contract)."""

import os
import pathlib
import re
import subprocess
import sys
import tempfile
import threading
import time
import itertools

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

MEDIA = {"api_key": "media-bot-api-key-2024", "secret_key": "your-secret-key-here", "source": "media_bot"}
TEST = {"api_key": "your-api-key", "secret_key": "your-secret-key", "source": "test"}
READER = {"api_key": "reader-api-key", "secret_key": "reader-secret", "source": "reader_bot"}
LIMITED = {"api_key": "limited-api-key", "secret_key": "limited-secret", "source": "limited_bot"}

CONFIG = """
listen = "127.0.0.1:0"
database = "sqlite://{db}"
timestamp_tolerance_secs = 300
max_amount = 1000000000000

[[sources]]
name = "media_bot"
api_key = "media-bot-api-key-2024"
secret = "your-secret-key-here"
permissions = ["read", "write", "admin"]

[[sources]]
name = "test"
api_key = "your-api-key"
secret = "your-secret-key"
permissions = ["read", "write", "admin"]

[[sources]]
name = "reader_bot"
api_key = "reader-api-key"
secret = "reader-secret"
permissions = ["read", "write"]
auto_register = false

[[sources]]
name = "limited_bot"
api_key = "limited-api-key"
secret = "limited-secret"
permissions = ["read", "write"]
rate_limit_per_sec = 1
"""


def server_bin() -> str:
    path = os.environ.get("CREDIT_SYNC_SERVER_BIN") or str(ROOT / "target/debug/credit-sync-server")
    if not os.path.isabs(path):
        path = str(ROOT / path)
    if not os.access(path, os.X_OK):
        pytest.exit(f"server binary not found at {path}: run `cargo build -p credit-sync-server`", 2)
    return path


class Server:
    def __init__(self) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="credit-sync-py-")
        cfg = pathlib.Path(self.tmp.name) / "server.toml"
        db = pathlib.Path(self.tmp.name) / "credit-sync.db"
        cfg.write_text(CONFIG.format(db=db))
        self.proc = subprocess.Popen(
            [server_bin(), "serve", "--config", str(cfg)],
            stdout=subprocess.PIPE,
            stderr=open(pathlib.Path(self.tmp.name) / "server.log", "wb"),
            text=True,
        )
        line = self._read_listening_line()
        match = re.search(r"listening on (http://\S+)", line or "")
        if not match:
            self.stop()
            log = (pathlib.Path(self.tmp.name) / "server.log").read_text(errors="replace")
            raise RuntimeError(f"server did not start: {line!r}\n{log}")
        self.base_url = match.group(1).rstrip("/")
        # Keep draining stdout so the server never blocks on a full pipe.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()  # type: ignore[union-attr]

    def _read_listening_line(self) -> str:
        result: list = []
        t = threading.Thread(target=lambda: result.append(self.proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        t.start()
        t.join(30)
        return result[0] if result else ""

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        self.tmp.cleanup()


@pytest.fixture(scope="session")
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def base_url(server) -> str:
    return server.base_url


_ids = itertools.count(int(time.time() * 1000) % 10**9 * 1000 + os.getpid() % 1000)


@pytest.fixture
def new_id():
    """A fresh telegram_id per call, so tests never share balances."""
    return lambda: next(_ids)


@pytest.fixture
def client(base_url):
    from credit_sync_client import CreditSyncClient

    c = CreditSyncClient(base_url=base_url, **MEDIA)
    yield c
    c.close()


@pytest.fixture
def run_py(base_url):
    """Runs a Python snippet in a fresh interpreter with BASE_URL set; returns the CompletedProcess."""

    def run(code: str, timeout: float = 60, **env: str):
        e = dict(os.environ, BASE_URL=base_url, **env)
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=e)

    return run
