"""Deadlines, the retry budget, proxies and CA bundles through the Python wheel:
`timeout` bounds the whole call, a storm of 503s empties the budget so calls fail
fast, `HTTP_PROXY`/`NO_PROXY`/`proxy=` choose the route. Time bounds are generous."""

import asyncio
import json
import os
import socket
import threading
import time

import pytest

from conftest import MEDIA
from credit_sync_client import AsyncCreditSyncClient, CreditSyncClient, CreditSyncError, TimeoutError
from fake_server import error_body

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEST_CA = os.path.join(ROOT, "core", "tests", "data", "test-ca.pem")


class SilentServer:
    """Accepts connections, reads, never answers."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.base_url = "http://127.0.0.1:%d" % self.listener.getsockname()[1]
        self.conns: list = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.listener.close()
        for c in self.conns:
            c.close()


class ForwardProxy:
    """A plain-http forward proxy (absolute-form requests), one request per connection,
    counting what passes through it."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = "http://127.0.0.1:%d" % self.listener.getsockname()[1]
        self.requests = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            f = conn.makefile("rb")
            method, target, _ = f.readline().decode().split(" ", 2)
            if not target.startswith("http://"):
                return
            host, _, path = target[len("http://"):].partition("/")
            head = [f"{method} /{path} HTTP/1.1\r\n"]
            length = 0
            while True:
                line = f.readline().decode()
                if line in ("\r\n", ""):
                    break
                lower = line.lower()
                if lower.startswith(("connection:", "proxy-")):
                    continue
                if lower.startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
                head.append(line)
            head.append("connection: close\r\n\r\n")
            body = f.read(length) if length else b""
            with self._lock:
                self.requests += 1
            h, p = host.rsplit(":", 1)
            with socket.create_connection((h, int(p)), timeout=10) as up:
                up.sendall("".join(head).encode() + body)
                answer = b""
                while chunk := up.recv(65536):
                    answer += chunk
            conn.sendall(answer.replace(b"\r\n", b"\r\nconnection: close\r\n", 1))

    def close(self) -> None:
        self.listener.close()


def test_a_silent_server_costs_the_deadline_not_the_retries():
    silent = SilentServer()
    try:
        c = CreditSyncClient(silent.base_url, "k", "s", "src", timeout=2.0, max_retries=3)
        start = time.monotonic()
        r = c.add_credits(1, 1, "x", reference="deadline-py-1")
        took = time.monotonic() - start
        assert r.code == "timeout" and not r.success
        assert r.reference == "deadline-py-1"
        assert 1.9 <= took < 5.0, took
        with pytest.raises(TimeoutError):
            r.raise_for_error()
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            c.get_balance(1)
        assert time.monotonic() - start < 5.0
    finally:
        silent.close()


def test_short_attempts_retry_inside_the_deadline():
    silent = SilentServer()
    try:
        c = CreditSyncClient(silent.base_url, "k", "s", "src", timeout=1.5, attempt_timeout=0.3, max_retries=20)
        start = time.monotonic()
        r = c.add_credits(1, 1, "x")
        assert r.code == "timeout" and r.reference.startswith("auto-")
        assert r.attempts >= 2
        assert time.monotonic() - start < 4.0
    finally:
        silent.close()


def test_async_deadline():
    silent = SilentServer()
    try:

        async def main():
            c = AsyncCreditSyncClient(silent.base_url, "k", "s", "src", timeout=1.0)
            start = time.monotonic()
            r = await c.add_credits(1, 1, "x", reference="deadline-py-2")
            return r, time.monotonic() - start

        r, took = asyncio.run(main())
        assert r.code == "timeout" and r.reference == "deadline-py-2"
        assert took < 4.0
    finally:
        silent.close()


class Unavailable:
    """Answers every request 503 `service_unavailable`, with a backlog deep enough for a
    storm (http.server's is 5), counting the requests."""

    BODY = json.dumps(error_body("service_unavailable")).encode()

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.base_url = "http://127.0.0.1:%d" % self.listener.getsockname()[1]
        self.requests = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            f = conn.makefile("rb")
            length = 0
            while True:
                line = f.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            f.read(length)
            with self._lock:
                self.requests += 1
            head = "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
            head += "content-length: %d\r\nconnection: close\r\n\r\n" % len(self.BODY)
            conn.sendall(head.encode() + self.BODY)

    def close(self) -> None:
        self.listener.close()


def test_a_retry_storm_empties_the_budget_and_calls_fail_fast():
    fake = Unavailable()
    try:

        async def storm(budget, calls):
            c = AsyncCreditSyncClient(fake.base_url, "k", "s", "src", max_retries=3, retry_budget=budget)
            return await asyncio.gather(*(c.add_credits(i + 1, 1, "storm") for i in range(calls)))

        # 50 tokens: ten retries for the whole client.
        results = asyncio.run(storm(50, 40))
        assert all(r.code == "service_unavailable" and r.reference for r in results), [r.code for r in results]
        fast = sum(1 for r in results if r.attempts == 1)
        assert fast >= 20, fast
        assert fake.requests <= 40 + 10, fake.requests

        # No budget: every call takes its retries.
        fake.requests = 0
        results = asyncio.run(storm(None, 5))
        assert all(r.code == "service_unavailable" and r.attempts == 4 for r in results)
        assert fake.requests == 20
    finally:
        fake.close()


def test_proxies_from_the_environment_and_explicit(base_url, new_id, monkeypatch):
    proxy = ForwardProxy()
    try:
        for name in ("HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("http_proxy", proxy.url)
        u = new_id()
        c = CreditSyncClient(base_url, **MEDIA)
        assert c.add_credits(u, 5, "via proxy").success
        assert c.get_balance(u)["credits"] == 5
        assert proxy.requests == 2

        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        CreditSyncClient(base_url, **MEDIA).get_balance(u)
        assert proxy.requests == 2, "NO_PROXY bypasses the proxy"

        # proxy= overrides the environment; proxy="" means direct.
        CreditSyncClient(base_url, **MEDIA, proxy=proxy.url).get_balance(u)
        assert proxy.requests == 3
        monkeypatch.delenv("NO_PROXY")
        monkeypatch.delenv("no_proxy")
        CreditSyncClient(base_url, **MEDIA, proxy="").get_balance(u)
        assert proxy.requests == 3, "direct ignores HTTP_PROXY"
    finally:
        proxy.close()


def test_ca_file(base_url, new_id, tmp_path):
    c = CreditSyncClient(base_url, **MEDIA, ca_file=TEST_CA)
    assert c.get_balance(new_id()) is None
    with pytest.raises(CreditSyncError) as e:
        CreditSyncClient(base_url, **MEDIA, ca_file=tmp_path / "missing.pem")
    assert e.value.code == "invalid_argument" and "missing.pem" in str(e.value)
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(CreditSyncError) as e:
        CreditSyncClient(base_url, **MEDIA, ca_file=str(bad))
    assert e.value.code == "invalid_argument" and "ca_file" in str(e.value)
