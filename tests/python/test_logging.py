"""The core's log in Python's `logging`, under the logger `credit_sync`: each attempt,
retry and backoff with the request id, and never a credential."""

import asyncio
import logging

from conftest import MEDIA
from credit_sync_client import AsyncCreditSyncClient, CreditSyncClient, generate_token
from test_deadlines import Unavailable


def logged(caplog):
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("credit_sync"))


def test_attempts_retries_and_clock_corrections_are_logged_without_secrets(caplog, base_url, new_id):
    caplog.set_level(logging.DEBUG, logger="credit_sync")
    down = Unavailable()
    try:
        c = CreditSyncClient(down.base_url, **MEDIA, max_retries=2)
        r = c.add_credits(new_id(), 1, "x")
        assert r.code == "service_unavailable" and r.attempts == 3
    finally:
        down.close()
    # The real server's answers carry request ids.
    u = new_id()
    c = CreditSyncClient(base_url, **MEDIA)
    assert c.add_credits(u, 5, "logged").success

    text = logged(caplog)
    assert "credit-sync attempt" in text
    assert "credit-sync retry after backoff" in text and "backoff_ms=" in text
    assert "code=service_unavailable" in text
    assert "request_id=" in text
    levels = {r.levelno for r in caplog.records if r.name.startswith("credit_sync")}
    assert logging.DEBUG in levels and logging.INFO in levels
    for secret in (MEDIA["api_key"], MEDIA["secret_key"], generate_token(u, 5, MEDIA["source"], 0, MEDIA["secret_key"])[:16]):
        assert secret not in text
    for word in ("x-signature", "x-api-key", "token=", "signature="):
        assert word not in text.lower()


def test_async_calls_log_too(caplog):
    caplog.set_level(logging.DEBUG, logger="credit_sync")
    down = Unavailable()
    try:

        async def main():
            c = AsyncCreditSyncClient(down.base_url, **MEDIA, max_retries=1)
            return await c.add_credits(1, 1, "x")

        assert asyncio.run(main()).attempts == 2
    finally:
        down.close()
    text = logged(caplog)
    assert "credit-sync retry after backoff" in text
    assert MEDIA["api_key"] not in text and MEDIA["secret_key"] not in text


def test_nothing_is_formatted_above_the_level(caplog):
    caplog.set_level(logging.ERROR, logger="credit_sync")
    down = Unavailable()
    try:
        c = CreditSyncClient(down.base_url, **MEDIA, max_retries=1)
        c.add_credits(1, 1, "x")
        c.add_credits(1, 1, "x")
    finally:
        down.close()
    assert logged(caplog) == ""
