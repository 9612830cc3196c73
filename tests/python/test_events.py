"""The event feed and verify_webhook through the built wheel, against the real server:
paging, a long poll that wakes on a commit, iter_events resumed from a stored cursor
(sync and async) seeing every event once, Ctrl-C during a long poll, and webhooks signed
by the official `standardwebhooks` package."""

import asyncio
import base64
import json
import select
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from standardwebhooks.webhooks import Webhook

from conftest import MEDIA, TEST
from credit_sync_client import (
    AsyncCreditSyncClient,
    CreditSyncClient,
    Event,
    ValidationError,
    WebhookVerificationError,
    verify_webhook,
)

SECRET = "whsec_" + base64.b64encode(b"a-secret-of-thirty-two-bytes!!!!").decode()


def head(client) -> str:
    """The cursor after the newest event (the suite's server is shared)."""
    page = client.get_events(limit=500)
    while page["events"]:
        page = client.get_events(after=page["next_cursor"], limit=500)
    return page["next_cursor"]


def mine(events, telegram_id):
    """The user's `credits.added` events (a first credit also registers: `user.registered`)."""
    return [e for e in events if e.telegram_id == telegram_id and e.type == "credits.added"]


def test_pages_carry_the_events_in_commit_order(client, new_id):
    start = head(client)
    user = new_id()
    for amount in (1, 2, 3):
        assert client.add_credits(user, amount, "feed", f"feed_{user}_{amount}").success
    first = client.get_events(after=start, limit=2)
    rest = client.get_events(after=first["next_cursor"])
    events = mine(first["events"] + rest["events"], user)
    assert [e.data["change"] for e in events] == [1, 2, 3]
    e = events[-1]
    assert isinstance(e, Event) and e.id.startswith("evt_") and e.source == "media_bot"
    assert e.created_at and isinstance(e.seq, int)
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert first["next_cursor"] == first["events"][-1].cursor
    # After the last page: no events, the same cursor again.
    empty = client.get_events(after=head(client))
    assert empty["events"] == [] and empty["next_cursor"]
    with pytest.raises(ValidationError):
        client.get_events(limit=0)
    with pytest.raises(ValidationError):
        client.get_events(after="not-a-cursor")


def test_a_long_poll_wakes_on_a_new_event(client, new_id):
    start = head(client)
    user = new_id()
    timer = threading.Timer(0.5, lambda: client.add_credits(user, 5, "wake"))
    timer.start()
    began = time.monotonic()
    page = client.get_events(after=start, wait=20)
    took = time.monotonic() - began
    timer.join()
    assert page["events"], page
    assert 0.3 < took < 10, took


def test_the_async_long_poll_wakes_too(base_url, client, new_id):
    start = head(client)
    user = new_id()

    async def main():
        async with AsyncCreditSyncClient(base_url=base_url, **TEST) as a:
            poll = asyncio.ensure_future(a.get_events(after=start, wait=20))
            await asyncio.sleep(0.3)
            assert not poll.done()
            await a.add_credits(user, 7, "wake")
            return await asyncio.wait_for(poll, 10)

    page = asyncio.run(main())
    assert [e.data["change"] for e in mine(page["events"], user)] == [7]


def run_bounded(fn, seconds=30):
    """Runs `fn` in a thread: an event the feed never delivers fails the test, not hangs it."""
    out = []
    t = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    t.start()
    t.join(seconds)
    assert out, "the feed did not deliver the expected events in time"
    return out[0]


def test_iter_events_resumed_from_a_stored_cursor_sees_each_event_once(client, new_id):
    start = head(client)
    user = new_id()
    for amount in (1, 2):
        client.add_credits(user, amount, "feed")

    def first_two():
        for event in client.iter_events(after=start):
            if mine([event], user) and event.data["change"] == 2:
                return event.cursor  # stored once handled; the iterator is dropped

    stored = run_bounded(first_two)
    for amount in (3, 4, 5):
        client.add_credits(user, amount, "feed")

    def the_rest():
        seen = []
        for event in client.iter_events(after=stored):
            if mine([event], user):
                seen.append(event.data["change"])
                if len(seen) == 3:
                    return seen

    assert run_bounded(the_rest) == [3, 4, 5]


def test_async_iter_events_resumed_from_a_stored_cursor_sees_each_event_once(base_url, client, new_id):
    start = head(client)
    user = new_id()

    async def main():
        async with AsyncCreditSyncClient(base_url=base_url, **MEDIA) as a:
            for amount in (1, 2):
                await a.add_credits(user, amount, "feed")
            stored = None
            async for event in a.iter_events(after=start):
                if mine([event], user) and event.data["change"] == 2:
                    stored = event.cursor
                    break
            for amount in (3, 4, 5):
                await a.add_credits(user, amount, "feed")
            seen = []
            async for event in a.iter_events(after=stored):
                if mine([event], user):
                    seen.append(event.data["change"])
                    if len(seen) == 3:
                        break
            # Cancelling a read mid-poll ends it cleanly (the native call is dropped).
            feed = a.iter_events(after=head(client))
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(feed.__anext__(), 0.3)
            return seen

    assert asyncio.run(asyncio.wait_for(main(), 30)) == [3, 4, 5]


def test_ctrl_c_interrupts_a_long_poll(base_url):
    # Two things made this test hang once in a loaded CI run while it passed alone:
    # - SIGINT's disposition is inherited. A suite started as a background job of a
    #   non-interactive shell (`cmd &` in a script, a CI runner) has SIGINT ignored, and
    #   Python then installs no KeyboardInterrupt handler: the child slept through the
    #   signal for the whole 25 s poll. A terminal's Ctrl-C reaches a Python with its
    #   handler installed, so the child installs it, whatever it inherited.
    # - The signal was sent a fixed 0.5 s after "polling" was printed, before the call;
    #   a child starved that long under load got it outside the `try`. Now "polling" is
    #   printed once the main thread is inside the call (its frame is at the call's line
    #   and it let go of the GIL), so the signal always lands in the poll.
    code = (
        "import os, signal, sys, threading, time\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from credit_sync_client import CreditSyncClient\n"
        f"c = CreditSyncClient(base_url=os.environ['BASE_URL'], **{MEDIA!r})\n"
        "after = c.get_events(limit=500)['next_cursor']\n"
        "while True:\n"
        "    p = c.get_events(after=after, limit=500)\n"
        "    if not p['events']: break\n"
        "    after = p['next_cursor']\n"
        "main = threading.get_ident()\n"
        "def announce():\n"
        "    while True:\n"
        "        frame = sys._current_frames().get(main)\n"
        "        if frame is not None and frame.f_code.co_name == '<module>' and frame.f_lineno == POLL_LINE:\n"
        "            break\n"
        "        time.sleep(0.01)\n"
        "    print('polling', flush=True)\n"
        "threading.Thread(target=announce, daemon=True).start()\n"
        "began = time.monotonic()\n"
        "try:\n"
        "    c.get_events(after=after, wait=25)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', round(time.monotonic() - began, 1), flush=True)\n"
    )
    lines = code.splitlines()
    poll_line = lines.index("    c.get_events(after=after, wait=25)") + 1
    code = code.replace("POLL_LINE", str(poll_line))
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        env={"BASE_URL": base_url, "PATH": "/usr/bin:/bin"},
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "the child never reached the long poll"
        assert proc.stdout.readline().strip() == "polling"
        # Inside the poll already; a little later is deeper in it (past the first slice).
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert out.startswith("interrupted"), out
    assert float(out.split()[1]) < 5, out


def signed(body: str, secret=SECRET, msg_id="evt_1", at=None):
    at = at or datetime.now(timezone.utc)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
    }


def an_event(client, new_id) -> dict:
    start = head(client)
    user = new_id()
    client.add_credits(user, 9, "hook")
    e = mine(client.get_events(after=start)["events"], user)[0]
    return {
        "id": e.id,
        "seq": e.seq,
        "type": e.type,
        "created_at": e.created_at,
        "source": e.source,
        "telegram_id": e.telegram_id,
        "data": e.data,
    }


def test_verify_webhook_accepts_what_standardwebhooks_signs(client, new_id):
    wire = an_event(client, new_id)
    body = json.dumps(wire)
    headers = signed(body, msg_id=wire["id"])
    for b in (body, body.encode()):
        event = verify_webhook(headers, b, SECRET)
        assert (event.id, event.type, event.telegram_id, event.data) == (
            wire["id"], "credits.added", wire["telegram_id"], wire["data"])
    # Header names in any case, as pairs; a rotation's two secrets.
    pairs = [(k.title(), v) for k, v in headers.items()]
    other = "whsec_" + base64.b64encode(b"another-secret-of-32-bytes!!!!!!").decode()
    assert verify_webhook(pairs, body, [other, SECRET]).id == wire["id"]


@pytest.mark.parametrize(
    "case, code",
    [
        ("tampered body", "webhook_signature_invalid"),
        ("wrong secret", "webhook_signature_invalid"),
        ("old timestamp", "webhook_timestamp_out_of_tolerance"),
        ("malformed header", "webhook_header_malformed"),
        ("malformed secret", "webhook_secret_malformed"),
    ],
)
def test_verify_webhook_rejects(client, new_id, case, code):
    wire = an_event(client, new_id)
    body = json.dumps(wire)
    secret = SECRET
    headers = signed(body, msg_id=wire["id"])
    if case == "tampered body":
        body = body.replace('"change": 9', '"change": 900')
        assert '"change": 900' in body
    elif case == "wrong secret":
        secret = "whsec_" + base64.b64encode(b"not-the-secret-that-signed-it!!!").decode()
    elif case == "old timestamp":
        old = datetime.now(timezone.utc) - timedelta(minutes=10)
        headers = signed(body, msg_id=wire["id"], at=old)
    elif case == "malformed header":
        headers["webhook-timestamp"] = "yesterday"
    elif case == "malformed secret":
        secret = "whsec_not base64!"
    with pytest.raises(WebhookVerificationError) as info:
        verify_webhook(headers, body, secret)
    assert info.value.code == code, info.value
    with pytest.raises(TypeError):
        verify_webhook(headers, 42, secret)  # type: ignore[arg-type]


def test_the_notify_example_bot_tells_a_user_another_bot_credited_them(
    base_url, client, new_id, monkeypatch, capsys, tmp_path
):
    import importlib.util

    import telegram_standin as tg
    from conftest import ROOT

    standin = tg.TelegramStandIn()
    try:
        cursor_file = tmp_path / "notify.cursor"
        cursor_file.write_text(head(client))  # a stored cursor: the bot resumes after it
        own, other = new_id(), new_id()
        client.add_credits(own, 3, "own credit")  # by media_bot, the bot's own source
        with CreditSyncClient(base_url=base_url, **TEST) as test_bot:
            test_bot.add_credits(other, 25, "credited by another bot")
        for name, value in {
            "BOT_TOKEN": tg.TOKEN,
            "TELEGRAM_API_BASE": standin.url,
            "CREDIT_SYNC_BASE_URL": base_url,
            "CREDIT_SYNC_API_KEY": MEDIA["api_key"],
            "CREDIT_SYNC_SECRET_KEY": MEDIA["secret_key"],
            "CREDIT_SYNC_SOURCE": MEDIA["source"],
            "CURSOR_FILE": str(cursor_file),
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(sys, "argv", ["aiogram_notify_bot", "--smoke"])
        path = ROOT / "examples/python/aiogram_notify_bot.py"
        spec = importlib.util.spec_from_file_location("example_aiogram_notify_bot", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        asyncio.run(asyncio.wait_for(module.main(), 30))
        assert "smoke: ok" in capsys.readouterr().out
        sent = standin.called("sendMessage")
        assert [m["chat_id"] for m in sent] == [other], sent
        assert "+25 credits from test" in sent[0]["text"]
        # The stored cursor moved past the notified event.
        page = client.get_events(after=cursor_file.read_text())
        assert other not in [e.telegram_id for e in page["events"]]
    finally:
        standin.stop()
