#!/usr/bin/env python3
"""Python SDK benchmark: `CreditSyncClient.add_credits` against the guide's hand-written
`requests` snippet and against `httpx` with keep-alive, sequential and concurrent.

Each variant adds 1 credit to users spread over --users and runs for --duration seconds in
all (or --count calls per round), after --warmup calls; the variants take turns in
--rounds rounds so that a change in machine load hits each alike. It prints calls/s, p50,
p99 and the number of failed calls of each, and the ratios of the competing ones. Without --base-url it starts its own release server on a
free loopback port with a temp SQLite database.

    bash bench/sdk/setup.sh rust python          # release server + release wheel in target/bench-sdk/venv
    target/bench-sdk/venv/bin/python bench/sdk/python_sdk.py --duration 10

Variants (--variants, comma separated; default: all):
  requests-guide   the guide's `sync_credits`, verbatim: `requests.post` per call, no Session
  httpx-keepalive  the same body and v1 token, signed in Python, over one `httpx.Client`
  sdk              `CreditSyncClient.add_credits`, one call after the other
  sdk-read         `CreditSyncClient.get_balance` (a signed read), one call after the other
                   (bench/last_millisecond.sh sets it beside `sdk`)
  requests-guide-threads  the guide's snippet from --concurrency threads
  sdk-threads      --concurrency threads sharing one `CreditSyncClient`
  sdk-async        `AsyncCreditSyncClient`: --concurrency coroutines under `asyncio.gather`
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import json
import os
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchserver import API_KEY, SECRET, SOURCE, BenchServer  # noqa: E402

import httpx  # noqa: E402
import requests  # noqa: E402

import credit_sync_client  # noqa: E402
from credit_sync_client import AsyncCreditSyncClient, CreditSyncClient  # noqa: E402

SEQUENTIAL = ["requests-guide", "httpx-keepalive", "sdk", "sdk-read"]
CONCURRENT = ["requests-guide-threads", "sdk-threads", "sdk-async"]


# --- the guide's snippet ("Way 2: direct HTTP requests", Python), unchanged but for API_URL
# and the credentials, which point at the bench server's `media_bot` source.
API_URL = ""  # set in main(): f"{base_url}/api/credits/sync"


def generate_token(telegram_id: int, amount: int, timestamp: int) -> str:
    """generate the verification token"""
    message = f"{telegram_id}:{amount}:{SOURCE}:{timestamp}"
    return hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()


def sync_credits(telegram_id: int, amount: int, reason: str) -> Any:
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
            "token": token,
        },
        headers={"X-Api-Key": API_KEY},
    )
    return response.json()


# --- end of the guide's snippet


def make_httpx_sync(http: httpx.Client) -> Callable[[int, int, str], Any]:
    """The guide's request (same body, same v1 token), over one keep-alive httpx client."""

    def sync(telegram_id: int, amount: int, reason: str) -> Any:
        timestamp = int(time.time())
        token = generate_token(telegram_id, amount, timestamp)
        response = http.post(
            API_URL,
            json={
                "telegram_id": telegram_id,
                "amount": amount,
                "source": SOURCE,
                "reason": reason,
                "timestamp": timestamp,
                "token": token,
            },
            headers={"X-Api-Key": API_KEY},
        )
        return response.json()

    return sync


class Result:
    def __init__(self, name: str, latencies: List[float], errors: int, elapsed: float, concurrency: int) -> None:
        self.name = name
        self.latencies = sorted(latencies)
        self.errors = errors
        self.elapsed = elapsed
        self.concurrency = concurrency

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed > 0 else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        rank = min(len(self.latencies), max(1, int(-(-len(self.latencies) * q // 1))))
        return self.latencies[rank - 1] * 1000.0

    def merge(self, other: "Result") -> "Result":
        return Result(self.name, self.latencies + other.latencies, self.errors + other.errors,
                      self.elapsed + other.elapsed, self.concurrency)

    def line(self) -> str:
        return (
            f"{self.name:<24} c={self.concurrency:<3} calls={len(self.latencies):<7} {self.rate:>8.0f} calls/s"
            f"  p50={self.pct(0.50):.2f}ms p99={self.pct(0.99):.2f}ms errors={self.errors}"
        )

    def as_json(self) -> Dict[str, Any]:
        return {
            "variant": self.name,
            "concurrency": self.concurrency,
            "calls": len(self.latencies),
            "calls_per_sec": round(self.rate, 1),
            "p50_ms": round(self.pct(0.50), 3),
            "p99_ms": round(self.pct(0.99), 3),
            "errors": self.errors,
        }


def ok_json(body: Any) -> bool:
    return isinstance(body, dict) and body.get("success") is True


def ok_sdk(result: Any) -> bool:
    return bool(result.success)


class Users:
    """Thread-safe round robin over the users, so every call touches a different row."""

    def __init__(self, count: int) -> None:
        self._it = itertools.count()
        self._count = count

    def next(self) -> int:
        return 1 + next(self._it) % self._count


def run_sequential(
    name: str, call: Callable[[int], bool], users: Users, duration: float, count: int, warmup: int
) -> Result:
    for _ in range(warmup):
        call(users.next())
    latencies: List[float] = []
    errors = 0
    started = time.perf_counter()
    deadline = started + duration
    while len(latencies) < count:
        t0 = time.perf_counter()
        ok = call(users.next())
        t1 = time.perf_counter()
        latencies.append(t1 - t0)
        errors += not ok
        if t1 >= deadline:
            break
    return Result(name, latencies, errors, time.perf_counter() - started, 1)


def run_threads(
    name: str, call: Callable[[int], bool], users: Users, duration: float, count: int, warmup: int, threads: int
) -> Result:
    for _ in range(warmup):
        call(users.next())
    latencies: List[float] = []
    errors = [0]
    lock = threading.Lock()
    budget = itertools.count()
    start = threading.Barrier(threads + 1)
    deadline = [0.0]

    def worker() -> None:
        mine: List[float] = []
        bad = 0
        start.wait()
        while next(budget) < count:
            t0 = time.perf_counter()
            ok = call(users.next())
            t1 = time.perf_counter()
            mine.append(t1 - t0)
            bad += not ok
            if t1 >= deadline[0]:
                break
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    started = time.perf_counter()
    deadline[0] = started + duration
    start.wait()
    for t in pool:
        t.join()
    return Result(name, latencies, errors[0], time.perf_counter() - started, threads)


async def run_async(
    name: str, client: AsyncCreditSyncClient, users: Users, duration: float, count: int, warmup: int, tasks: int
) -> Result:
    for _ in range(warmup):
        await client.add_credits(users.next(), 1, "bench")
    latencies: List[float] = []
    errors = 0
    budget = itertools.count()
    started = time.perf_counter()
    deadline = started + duration

    async def worker() -> None:
        nonlocal errors
        while next(budget) < count:
            t0 = time.perf_counter()
            result = await client.add_credits(users.next(), 1, "bench")
            t1 = time.perf_counter()
            latencies.append(t1 - t0)
            errors += not result.success
            if t1 >= deadline:
                break

    await asyncio.gather(*(worker() for _ in range(tasks)))
    return Result(name, latencies, errors, time.perf_counter() - started, tasks)


def main() -> int:
    global API_URL
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", help="server to use (default: start a release server on a free port)")
    parser.add_argument("--server-bin", help="server binary (default: target/release/credit-sync-server)")
    parser.add_argument("--variants", default=",".join(v for v in SEQUENTIAL + CONCURRENT if v != "sdk-read"))
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per variant, all rounds (default 10)")
    parser.add_argument("--count", type=int, default=100_000, help="max calls per variant and round (default 100000)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="run the variants round-robin in this many rounds of duration/rounds seconds each, so "
                             "a change in machine load hits every variant alike (default 5)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed calls before each variant")
    parser.add_argument("--concurrency", type=int, default=16, help="threads / coroutines (default 16)")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--json", action="store_true", help="print one JSON object per variant")
    args = parser.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = set(variants) - set(SEQUENTIAL + CONCURRENT)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}")

    native = getattr(credit_sync_client._native, "__file__", "?")
    with BenchServer(args.base_url, args.server_bin) as server:
        assert server.base_url is not None
        API_URL = f"{server.base_url}/api/credits/sync"
        print(
            f"python_sdk: {server.base_url} duration={args.duration}s rounds={args.rounds} count={args.count} "
            f"concurrency={args.concurrency} python={sys.version.split()[0]} requests={requests.__version__} "
            f"httpx={httpx.__version__} credit_sync_client={credit_sync_client.__version__} native={native}",
            flush=True,
        )
        users = Users(args.users)
        client = CreditSyncClient(server.base_url, API_KEY, SECRET, SOURCE)
        http = httpx.Client()
        calls: Dict[str, Callable[[int], bool]] = {
            "requests-guide": lambda u: ok_json(sync_credits(u, 1, "bench")),
            "httpx-keepalive": (lambda s: lambda u: ok_json(s(u, 1, "bench")))(make_httpx_sync(http)),
            "sdk": lambda u: ok_sdk(client.add_credits(u, 1, "bench")),
            # None for a user not seen yet is an answer too; a failure raises.
            "sdk-read": lambda u: client.get_balance(u) is not None or True,
        }
        results: Dict[str, Result] = {}
        rounds = max(1, args.rounds)
        slice_ = args.duration / rounds
        aclient = AsyncCreditSyncClient(server.base_url, API_KEY, SECRET, SOURCE)
        for round_ in range(rounds):
            warmup = args.warmup if round_ == 0 else 0
            for name in variants:
                if name in SEQUENTIAL:
                    r = run_sequential(name, calls[name], users, slice_, args.count, warmup)
                elif name == "requests-guide-threads":
                    r = run_threads(name, calls["requests-guide"], users, slice_, args.count, warmup,
                                    args.concurrency)
                elif name == "sdk-threads":
                    r = run_threads(name, calls["sdk"], users, slice_, args.count, warmup, args.concurrency)
                else:
                    r = asyncio.run(run_async(name, aclient, users, slice_, args.count, warmup, args.concurrency))
                results[name] = results[name].merge(r) if name in results else r
        aclient.close()
        for name in variants:
            r = results[name]
            print(json.dumps(r.as_json()) if args.json else r.line(), flush=True)
        http.close()
        client.close()

    def ratio(a: str, b: str) -> None:
        if a in results and b in results and results[b].rate > 0:
            print(f"ratio {a} / {b} = {results[a].rate / results[b].rate:.2f}x")

    ratio("sdk", "requests-guide")
    ratio("sdk", "httpx-keepalive")
    ratio("httpx-keepalive", "requests-guide")
    ratio("sdk-threads", "requests-guide-threads")
    ratio("sdk-async", "requests-guide-threads")
    ratio("sdk-async", "sdk")
    return 1 if any(r.errors for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
