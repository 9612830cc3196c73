"""The pitfalls of native extensions (docs: /shared STYLE.md): fork, the GIL,
asyncio cancellation, shutdown with calls in flight, and closing mid-call.
Each risky case runs in its own interpreter under a timeout, so a hang fails
the test instead of the suite."""

import textwrap
import threading
import time

import pytest

from conftest import MEDIA
from credit_sync_client import CreditSyncClient
from fake_server import FakeServer, error_body

PRELUDE = """
import asyncio, os, sys, threading, time
from credit_sync_client import CreditSyncClient, AsyncCreditSyncClient
BASE_URL = os.environ["BASE_URL"]
SLOW_URL = os.environ.get("SLOW_URL", "")
KEYS = dict(api_key="media-bot-api-key-2024", secret_key="your-secret-key-here", source="media_bot")
"""

NOISE = ("Event loop is closed", "Traceback", "panicked", "Fatal Python error", "PanicException", "Exception ignored")


def script(body: str) -> str:
    return PRELUDE + textwrap.dedent(body)


@pytest.fixture
def slow():
    fake = FakeServer(body={"success": True, "code": "ok", "message": "ok", "telegram_id": 1, "credits": 5, "nickname": None}, delay=1.5)
    yield fake
    fake.close()


def assert_clean(proc):
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    for noise in NOISE:
        assert noise not in proc.stderr, proc.stderr


def test_fork_child_uses_client(run_py):
    # Repeated, because a runtime that survives a fork corrupts the child only sometimes.
    proc = run_py(
        script(
            """
            client = CreditSyncClient(BASE_URL, **KEYS)
            aclient = AsyncCreditSyncClient(BASE_URL, **KEYS)
            for round in range(15):
                assert client.add_credits(77001, 10, "parent").success
                assert asyncio.run(aclient.get_balance(77001))["credits"] >= 10
                pid = os.fork()
                if pid == 0:
                    ok = client.add_credits(77001, 1, "child").success
                    ok = ok and client.get_balance(77001) is not None
                    ok = ok and asyncio.run(aclient.add_credits(77001, 1, "child async")).success
                    os._exit(0 if ok else 3)
                _, status = os.waitpid(pid, 0)
                assert os.WEXITSTATUS(status) == 0, (round, status)
                assert client.add_credits(77001, 1, "parent again").success
            print("fork ok")
            """
        ),
        timeout=90,
    )
    assert_clean(proc)
    assert "fork ok" in proc.stdout


def test_fork_with_calls_in_flight_in_other_threads(run_py, slow):
    # The fork stops the runtime: the parent's calls in flight fail (connection_error), never hang;
    # the child works; both go on making calls.
    proc = run_py(
        script(
            """
            client = CreditSyncClient(BASE_URL, **KEYS)
            slow_client = CreditSyncClient(SLOW_URL, "k", "s", "src", max_retries=0)
            results = []
            threads = [threading.Thread(target=lambda: results.append(slow_client.add_credits(1, 1, "x").code))
                       for _ in range(3)]
            for t in threads: t.start()
            time.sleep(0.3)
            pid = os.fork()
            if pid == 0:
                os._exit(0 if client.add_credits(77004, 1, "child").success else 3)
            _, status = os.waitpid(pid, 0)
            for t in threads: t.join(30)
            assert os.WEXITSTATUS(status) == 0, status
            assert len(results) == 3 and not any(t.is_alive() for t in threads), results
            assert client.add_credits(77004, 1, "parent").success
            print("ok", sorted(set(results)))
            """
        ),
        timeout=60,
        SLOW_URL=slow.base_url,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok" in proc.stdout


def test_gil_released_during_call(slow):
    client = CreditSyncClient(slow.base_url, "k", "s", "src", max_retries=0)
    done = threading.Event()
    result = []

    def call():
        result.append(client.get_balance(1))
        done.set()

    t = threading.Thread(target=call)
    start = time.monotonic()
    t.start()
    spins = 0
    while not done.is_set() and time.monotonic() - start < 10:
        spins += 1  # pure Python work: only possible while the call has released the GIL
    t.join(10)
    assert result and result[0]["credits"] == 5
    assert time.monotonic() - start >= 1.4
    assert spins > 10_000


def test_asyncio_cancellation_is_quiet(run_py, slow):
    proc = run_py(
        script(
            """
            async def main():
                client = AsyncCreditSyncClient(SLOW_URL, "k", "s", "src", max_retries=0)
                try:
                    await asyncio.wait_for(client.get_balance(1), 0.2)
                except asyncio.TimeoutError:
                    print("timed out")
                task = asyncio.ensure_future(client.add_credits(1, 1, "x"))
                await asyncio.sleep(0.1)
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    print("cancelled")
                # left running: asyncio.run cancels it and closes the loop
                asyncio.ensure_future(client.get_balance(1))
                await asyncio.sleep(0.05)
            asyncio.run(main())
            time.sleep(2)  # the slow answers arrive after the loop is closed
            print("done")
            """
        ),
        timeout=30,
        SLOW_URL=slow.base_url,
    )
    assert_clean(proc)
    assert proc.stdout.split() == ["timed", "out", "cancelled", "done"]


def test_shutdown_with_calls_in_flight(run_py, slow):
    proc = run_py(
        script(
            """
            client = CreditSyncClient(SLOW_URL, "k", "s", "src")
            for _ in range(4):
                threading.Thread(target=client.get_balance, args=(1,), daemon=True).start()
            aclient = AsyncCreditSyncClient(SLOW_URL, "k", "s", "src")
            loop = asyncio.new_event_loop()
            pending = [loop.create_task(aclient.get_balance(1)) for _ in range(4)]
            loop.run_until_complete(asyncio.sleep(0.2))
            time.sleep(0.2)
            print("exiting")
            """
        ),
        timeout=30,
        SLOW_URL=slow.base_url,
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    assert "exiting" in proc.stdout
    for noise in ("panicked", "Fatal Python error", "Aborted", "PanicException"):
        assert noise not in proc.stderr, proc.stderr


def test_shutdown_asyncio_run_with_tasks_in_flight(run_py, slow):
    proc = run_py(
        script(
            """
            async def main():
                client = AsyncCreditSyncClient(SLOW_URL, "k", "s", "src")
                for _ in range(8):
                    asyncio.ensure_future(client.add_credits(1, 1, "x"))
                await asyncio.sleep(0.1)
            asyncio.run(main())
            """
        ),
        timeout=30,
        SLOW_URL=slow.base_url,
    )
    assert_clean(proc)


def test_close_mid_call_finishes_the_call(slow):
    client = CreditSyncClient(slow.base_url, "k", "s", "src", max_retries=0)
    result = []
    t = threading.Thread(target=lambda: result.append(client.get_balance(1)))
    t.start()
    time.sleep(0.2)
    client.close()
    t.join(10)
    assert not t.is_alive() and result[0]["credits"] == 5
    assert client.add_credits(1, 1, "x").code == "client_closed"


def test_keyboard_interrupt_free_threads_do_not_deadlock(base_url):
    # Many threads mixing sync calls with Python work: no deadlock between GIL and runtime.
    client = CreditSyncClient(base_url, **MEDIA)
    stop = time.monotonic() + 2
    counts = []

    def work():
        n = 0
        while time.monotonic() < stop:
            client.get_balance(1)
            sum(range(1000))
            n += 1
        counts.append(n)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(counts) == 6 and all(c > 0 for c in counts)


def test_call_from_atexit_handler(run_py):
    # A handler registered before the import runs after the extension's own hook; it may still call.
    proc = run_py(
        """
import atexit, os
def last_words():
    print("atexit", client.add_credits(77002, 1, "bye").success, flush=True)
atexit.register(last_words)
from credit_sync_client import CreditSyncClient
client = CreditSyncClient(os.environ["BASE_URL"], "media-bot-api-key-2024", "your-secret-key-here", "media_bot")
""",
        timeout=30,
    )
    assert_clean(proc)
    assert "atexit True" in proc.stdout


def test_fork_with_client_never_used_in_parent_and_gc_in_child(run_py):
    proc = run_py(
        script(
            """
            import gc
            client = CreditSyncClient(BASE_URL, **KEYS)
            assert client.get_balance(77006) is None  # a user no test registers
            pid = os.fork()
            if pid == 0:
                fresh = CreditSyncClient(BASE_URL, **KEYS)
                ok = fresh.add_credits(77003, 1, "child").success
                client.close()      # drops nothing built by the parent
                del client; gc.collect()
                os._exit(0 if ok else 3)
            _, status = os.waitpid(pid, 0)
            assert os.WEXITSTATUS(status) == 0, status
            print("ok")
            """
        ),
        timeout=60,
    )
    assert_clean(proc)
