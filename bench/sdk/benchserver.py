"""Starts a release `credit-sync-server` for a benchmark: a free loopback port, a
fresh SQLite database in a temp dir, and the guide's `media_bot` credentials.
Shared by the Python SDK benchmarks (the Node and Rust ones do the same in their
own language)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN = ROOT / "target" / "release" / "credit-sync-server"

# The guide's credentials for source `media_bot`.
API_KEY = "media-bot-api-key-2024"
SECRET = "your-secret-key-here"
SOURCE = "media_bot"


class BenchServer:
    """A server for the duration of a `with` block; `base_url` once it is listening."""

    def __init__(self, base_url: Optional[str] = None, server_bin: Optional[str] = None) -> None:
        self.base_url = base_url.rstrip("/") if base_url else None
        self.server_bin = server_bin or os.environ.get("CREDIT_SYNC_SERVER_BIN") or str(DEFAULT_BIN)
        self._proc: Optional[subprocess.Popen[str]] = None
        self._dir: Optional[str] = None

    def __enter__(self) -> "BenchServer":
        if self.base_url:
            return self
        if not os.access(self.server_bin, os.X_OK):
            raise SystemExit(f"no server binary at {self.server_bin}: run `bash bench/sdk/setup.sh rust`")
        self._dir = tempfile.mkdtemp(prefix="credit-sync-sdk-bench-")
        config = Path(self._dir) / "bench.toml"
        config.write_text(
            'listen = "127.0.0.1:0"\n'
            f'database = "sqlite://{self._dir}/bench.db"\n\n'
            "[[sources]]\n"
            f'name = "{SOURCE}"\napi_key = "{API_KEY}"\nsecret = "{SECRET}"\n'
            'permissions = ["read", "write", "admin"]\n'
        )
        self._proc = subprocess.Popen(
            [self.server_bin, "serve", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        url = line.rsplit(" ", 1)[-1]
        if not url.startswith("http"):
            self.__exit__()
            raise SystemExit(f"server did not report its address (got {line!r})")
        self.base_url = url
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
