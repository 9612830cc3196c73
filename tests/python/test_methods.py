"""Every method, every error code the SDK can meet, and argument checking."""

import time

import pytest

import credit_sync_client as cs
from conftest import LIMITED, MEDIA, READER, TEST
from fake_server import FakeServer, closed_port_url, error_body
from credit_sync_client import (
    AsyncCreditSyncClient,
    AuthenticationError,
    CreditSyncClient,
    CreditSyncError,
    InsufficientCreditsError,
    RateLimitError,
    ReferenceConflictError,
    ServerError,
    SyncResult,
    TimeoutError,
    TransportError,
    UserNotFoundError,
    ValidationError,
)


def test_public_names_have_docstrings():
    for name in cs.__all__:
        if name == "__version__":
            continue
        assert getattr(cs, name).__doc__, name
    for cls in (CreditSyncClient, AsyncCreditSyncClient, SyncResult):
        for attr in dir(cls):
            if not attr.startswith("_"):
                assert getattr(cls, attr).__doc__, f"{cls.__name__}.{attr}"


def test_exception_hierarchy():
    for exc in (
        AuthenticationError,
        cs.TimestampError,
        InsufficientCreditsError,
        ReferenceConflictError,
        UserNotFoundError,
        ValidationError,
        RateLimitError,
        TransportError,
        TimeoutError,
        ServerError,
    ):
        assert issubclass(exc, CreditSyncError)
        assert exc.__module__ == "credit_sync_client"
    assert issubclass(cs.TimestampError, AuthenticationError)
    assert issubclass(TimeoutError, TransportError)
    assert issubclass(CreditSyncError, Exception)
    assert CreditSyncError("x").code == "unknown"  # attributes exist on user-raised ones too


def test_constructor_positional_keyword_and_from_env(base_url, monkeypatch):
    a = CreditSyncClient(base_url, MEDIA["api_key"], MEDIA["secret_key"], MEDIA["source"], timeout=5, max_retries=1)
    b = CreditSyncClient(base_url=base_url, **MEDIA)
    assert a.base_url == b.base_url == base_url and a.source == "media_bot"
    assert "secret" not in repr(a) and MEDIA["api_key"] not in repr(a)
    monkeypatch.setenv("CREDIT_SYNC_BASE_URL", base_url)
    monkeypatch.setenv("CREDIT_SYNC_API_KEY", TEST["api_key"])
    monkeypatch.setenv("CREDIT_SYNC_SECRET_KEY", TEST["secret_key"])
    monkeypatch.setenv("CREDIT_SYNC_SOURCE", TEST["source"])
    c = CreditSyncClient.from_env()
    assert c.source == "test"
    assert c.add_credits(11, 5, "from env").success
    monkeypatch.delenv("CREDIT_SYNC_SOURCE")
    with pytest.raises(ValidationError, match="CREDIT_SYNC_SOURCE"):
        CreditSyncClient.from_env()


def test_bad_configuration():
    with pytest.raises(ValidationError) as e:
        CreditSyncClient("ftp://x", "k", "s", "src")
    assert e.value.code == "invalid_argument"
    with pytest.raises(ValidationError):
        CreditSyncClient("http://x", "", "s", "src")
    with pytest.raises(ValidationError):
        CreditSyncClient("http://x", "k", "s", "src", timeout=0)


def test_argument_types_name_the_argument(client):
    cases = [
        (lambda: client.add_credits("123", 1, "x"), "telegram_id"),
        (lambda: client.add_credits(1, 1.5, "x"), "amount"),
        (lambda: client.add_credits(1, 1, 5), "reason"),
        (lambda: client.add_credits(1, 1, "x", reference=7), "reference"),
        (lambda: client.deduct_credits(1, "1", "x"), "amount"),
        (lambda: client.get_balance("1"), "telegram_id"),
        (lambda: client.get_records(1, limit="5"), "limit"),
        (lambda: client.get_records(1, limit=-1), "limit"),
        (lambda: client.register_user(1, 5), "nickname"),
        (lambda: client.batch_sync("abc"), "items"),
        (lambda: client.batch_sync([1]), "items[0]"),
        (lambda: client.batch_sync([{"telegram_id": 1, "amount": 1}]), "reason"),
        (lambda: client.batch_sync([{"telegram_id": 1, "amount": "1", "reason": "x"}]), "amount"),
        (lambda: client.batch_sync([{"telegram_id": 1, "amount": 1, "reason": "x", "oops": 1}]), "oops"),
        (lambda: CreditSyncClient("http://x", "k", "s", "src", timeout="1"), "timeout"),
        (lambda: CreditSyncClient("http://x", "k", "s", "src", max_retries=-1), "max_retries"),
        (lambda: cs.make_reference("a", 1.5), "part 1"),
    ]
    for call, name in cases:
        with pytest.raises((TypeError, ValueError)) as e:
            call()
        # pyo3 names the argument in the message, or (Python 3.11+) in a note the traceback shows.
        text = " ".join([str(e.value), *getattr(e.value, "__notes__", [])])
        assert name in text, (name, text)


def test_add_deduct_and_result_fields(client, new_id):
    uid = new_id()
    r = client.add_credits(uid, 100, "reward", reference=f"r{uid}")
    assert isinstance(r, SyncResult)
    assert (r.success, r.code, r.balance, r.duplicate, r.telegram_id, r.change) == (True, "ok", 100, False, uid, 100)
    assert r.record_id and r.reference == f"r{uid}"
    assert r.data == {"record_id": r.record_id, "telegram_id": uid, "change": 100, "balance": 100, "duplicate": False}
    assert r.raise_for_error() is r
    again = client.add_credits(uid, 100, "reward", reference=f"r{uid}")
    assert again.success and again.duplicate and again.record_id == r.record_id and again.balance == 100

    d = client.deduct_credits(uid, 30, "spend")
    assert d.success and d.balance == 70 and d.change == -30
    assert d.reference and d.reference.startswith("auto-")  # the SDK's own idempotency key


def test_insufficient_credits(client, new_id):
    uid = new_id()
    client.add_credits(uid, 10, "seed")
    r = client.deduct_credits(uid, 500, "vip")
    assert not r.success and r.code == "insufficient_credits" and r.balance == 10 and r.data is None
    assert r.message
    with pytest.raises(InsufficientCreditsError) as e:
        r.raise_for_error()
    assert e.value.code == "insufficient_credits" and e.value.balance == 10
    assert client.get_balance(uid)["credits"] == 10


def test_reference_conflict(client, new_id):
    uid = new_id()
    assert client.add_credits(uid, 10, "a", reference=f"c{uid}").success
    r = client.add_credits(uid, 20, "a", reference=f"c{uid}")
    assert r.code == "reference_conflict"
    with pytest.raises(ReferenceConflictError) as e:
        r.raise_for_error()
    assert "amount" in e.value.fields


def test_user_not_found(client, new_id):
    uid = new_id()
    assert client.get_balance(uid) is None
    r = client.deduct_credits(uid, 1, "x")
    assert r.code == "user_not_found"
    with pytest.raises(UserNotFoundError):
        r.raise_for_error()
    reader = CreditSyncClient(client.base_url, **READER)  # auto_register off
    assert reader.add_credits(uid, 1, "x").code == "user_not_found"


@pytest.mark.parametrize(
    "args, codes",
    [
        ((0, 1, "x"), {"invalid_telegram_id"}),
        ((-5, 1, "x"), {"invalid_telegram_id"}),
        ((1, 0, "x"), {"invalid_amount", "invalid_argument"}),
        ((1, -3, "x"), {"invalid_amount", "invalid_argument"}),
        ((1, 10**13, "x"), {"amount_too_large"}),
        ((1, 1, "x" * 300), {"invalid_reason"}),
        ((1, 1, "bad\nreason"), {"invalid_reason"}),
        ((1, 1, "x", "has space"), {"invalid_reference"}),
        ((1, 1, "x", "r" * 200), {"invalid_reference"}),
    ],
)
def test_validation_errors(client, args, codes):
    r = client.add_credits(*args)
    assert not r.success and r.code in codes, r
    with pytest.raises(ValidationError) as e:
        r.raise_for_error()
    assert e.value.code == r.code


def test_batch(client, new_id):
    a, b, c = new_id(), new_id(), new_id()
    client.add_credits(c, 5, "seed")
    r = client.batch_sync(
        [
            {"telegram_id": a, "amount": 100, "reason": "1st", "reference": f"b{a}"},
            {"telegram_id": b, "amount": 50, "reason": "2nd", "reference": None},
            {"telegram_id": c, "amount": -10, "reason": "too much"},
        ]
    )
    assert not r.success and r.code == "partial_failure"
    assert r.data["success"] == 2 and r.data["failed"] == 1
    results = r.data["results"]
    assert [x.success for x in results] == [True, True, False]
    assert results[0].balance == 100 and results[0].reference == f"b{a}"
    assert results[2].code == "insufficient_credits"
    with pytest.raises(CreditSyncError) as e:
        r.raise_for_error()
    assert e.value.code == "partial_failure"

    ok = client.batch_sync(({"telegram_id": a, "amount": 1, "reason": "t"} for _ in range(3)))
    assert ok.success and ok.code == "ok" and ok.data["success"] == 3

    atomic = client.batch_sync(
        [{"telegram_id": a, "amount": 1, "reason": "t"}, {"telegram_id": c, "amount": -1000, "reason": "x"}],
        atomic=True,
    )
    assert not atomic.success
    assert [x.code for x in atomic.data["results"]] == ["batch_aborted", "insufficient_credits"]
    assert client.get_balance(a)["credits"] == 103

    too_big = client.batch_sync([{"telegram_id": a, "amount": 1, "reason": "t"}] * 1001)
    assert too_big.code == "batch_too_large" and too_big.data == {"success": 0, "failed": 1001, "results": []}
    assert client.batch_sync([]).code == "batch_too_large"
    with pytest.raises(ValidationError):
        too_big.raise_for_error()


def test_balance_records_and_pagination(client, new_id):
    uid = new_id()
    for i in range(5):
        client.add_credits(uid, i + 1, f"r{i}")
    assert client.get_balance(uid) == {"telegram_id": uid, "credits": 15, "held": 0, "available": 15, "nickname": None}
    page = client.get_records(uid, limit=2)
    assert [r["change"] for r in page["records"]] == [5, 4]
    assert set(page["records"][0]) >= {"id", "change", "balance_after", "reason", "source", "external_reference", "created_at"}
    seen = [r["reason"] for r in page["records"]]
    while page["next_cursor"]:
        page = client.get_records(uid, limit=2, cursor=page["next_cursor"])
        seen += [r["reason"] for r in page["records"]]
    assert seen == ["r4", "r3", "r2", "r1", "r0"]
    assert client.get_records(uid)["records"][0]["balance_after"] == 15
    with pytest.raises(ValidationError):
        client.get_records(uid, limit=0)
    with pytest.raises(ValidationError):
        client.get_records(uid, limit=10_000)


def test_iter_records_walks_every_page_newest_first(client, new_id):
    uid = new_id()
    for i in range(5):
        client.add_credits(uid, i + 1, f"r{i}")
    walk = client.iter_records(uid, page_size=2)
    assert iter(walk) is walk
    records = list(walk)
    assert [r["reason"] for r in records] == ["r4", "r3", "r2", "r1", "r0"]
    assert records == client.get_records(uid, limit=5)["records"]
    assert next(walk, "done") == "done"  # exhausted stays exhausted
    # The default page size is the core's; one page is enough here.
    assert [r["change"] for r in client.iter_records(uid)] == [5, 4, 3, 2, 1]
    assert list(client.iter_records(new_id())) == []  # an unknown user has no records
    # A page size the server refuses is raised by the first step, once; then the walk ends.
    bad = client.iter_records(uid, page_size=0)
    with pytest.raises(ValidationError) as info:
        next(bad)
    assert info.value.field == "limit"
    assert list(bad) == []
    with pytest.raises(ValueError, match="page_size"):
        client.iter_records(uid, page_size=-1)


def test_async_iter_records_walks_every_page(base_url, client, new_id):
    import asyncio

    uid = new_id()
    for i in range(5):
        client.add_credits(uid, i + 1, f"r{i}")

    async def main():
        async with AsyncCreditSyncClient(base_url=base_url, **MEDIA) as a:
            seen = [r["change"] async for r in a.iter_records(uid, page_size=2)]
            firsts = []
            async for r in a.iter_records(uid):
                firsts.append(r["change"])
                break
            with pytest.raises(ValidationError):
                async for _ in a.iter_records(uid, page_size=500):
                    pass
            return seen, firsts

    assert asyncio.run(main()) == ([5, 4, 3, 2, 1], [5])


def test_register_user(client, new_id, base_url):
    uid = new_id()
    u = client.register_user(uid, "alice")
    assert u == {"telegram_id": uid, "credits": 0, "nickname": "alice", "created": True}
    u = client.register_user(uid, "bob")
    assert u["created"] is False and u["nickname"] == "bob"
    assert client.get_balance(uid)["nickname"] == "bob"
    for bad in ("a\nb", "n" * 129):
        with pytest.raises(ValidationError) as e:
            client.register_user(uid, bad)
        assert (e.value.code, e.value.field) == ("invalid_nickname", "nickname")
    with pytest.raises(AuthenticationError) as e:
        CreditSyncClient(base_url, **READER).register_user(uid, "eve")
    assert e.value.code == "forbidden"


def test_authentication_errors(base_url):
    bad_key = CreditSyncClient(base_url, "nope", "x", "media_bot")
    r = bad_key.add_credits(1, 1, "x")
    assert r.code == "unauthorized"
    with pytest.raises(AuthenticationError):
        r.raise_for_error()
    with pytest.raises(AuthenticationError) as e:
        bad_key.get_balance(1)
    assert e.value.code == "unauthorized"

    bad_secret = CreditSyncClient(base_url, MEDIA["api_key"], "wrong", "media_bot")
    assert bad_secret.add_credits(1, 1, "x").code == "invalid_signature"
    with pytest.raises(AuthenticationError) as e:
        bad_secret.get_records(1)
    assert e.value.code == "invalid_signature"

    wrong_source = CreditSyncClient(base_url, MEDIA["api_key"], MEDIA["secret_key"], "test")
    assert wrong_source.add_credits(1, 1, "x").code == "source_mismatch"


def test_timestamp_error():
    # A real server never lets this through (the SDK corrects its clock from server_time and
    # retries once); a server that keeps refusing the clock gives TimestampError.
    body = dict(error_body("timestamp_out_of_window"), server_time=1700000000)
    fake = FakeServer(status=401, body=body)
    try:
        c = CreditSyncClient(fake.base_url, "k", "s", "src", max_retries=0)
        r = c.add_credits(1, 1, "x")
        assert r.code == "timestamp_out_of_window"
        with pytest.raises(cs.TimestampError) as e:
            r.raise_for_error()
        assert isinstance(e.value, AuthenticationError) and e.value.server_time == 1700000000
        with pytest.raises(cs.TimestampError):
            c.get_records(1)
    finally:
        fake.close()


def test_rate_limited(base_url):
    c = CreditSyncClient(base_url, **LIMITED, max_retries=0)
    codes = {c.add_credits(1, 1, "x").code for _ in range(6)}
    assert "rate_limited" in codes
    for _ in range(6):
        r = c.add_credits(1, 1, "x")
        if r.code == "rate_limited":
            with pytest.raises(RateLimitError) as e:
                r.raise_for_error()
            assert e.value.retry_after is None or e.value.retry_after >= 0
            break


def test_timeout():
    fake = FakeServer(body=error_body("ok"), delay=3)
    try:
        c = CreditSyncClient(fake.base_url, "k", "s", "src", timeout=0.3, max_retries=0)
        start = time.monotonic()
        r = c.add_credits(1, 1, "x")
        assert r.code == "timeout" and time.monotonic() - start < 2.5
        with pytest.raises(TimeoutError):
            r.raise_for_error()
        with pytest.raises(TimeoutError):
            c.get_balance(1)
    finally:
        fake.close()


def test_connection_error():
    c = CreditSyncClient(closed_port_url(), "k", "s", "src", max_retries=0)
    r = c.add_credits(1, 1, "x")
    assert r.code == "connection_error"
    with pytest.raises(TransportError) as e:
        r.raise_for_error()
    assert not isinstance(e.value, TimeoutError)


@pytest.mark.parametrize(
    "status, body, raw, code",
    [
        (503, error_body("service_unavailable"), None, "service_unavailable"),
        (500, error_body("internal_error"), None, "internal_error"),
        (418, error_body("brand_new_code"), None, "unknown"),
        (200, None, b"<html>not json</html>", "invalid_response"),
    ],
)
def test_server_errors(status, body, raw, code):
    fake = FakeServer(status=status, body=body, raw=raw)
    try:
        c = CreditSyncClient(fake.base_url, "k", "s", "src", max_retries=0)
        r = c.add_credits(1, 1, "x")
        assert r.code == code, r
        with pytest.raises(ServerError) as e:
            r.raise_for_error()
        assert e.value.code == code
        with pytest.raises(ServerError):
            c.get_balance(1)
    finally:
        fake.close()


def test_closed_client(base_url):
    with CreditSyncClient(base_url, **MEDIA) as c:
        assert c.add_credits(1, 1, "x").success
    r = c.add_credits(1, 1, "x")
    assert r.code == "client_closed"
    with pytest.raises(CreditSyncError) as e:
        c.get_balance(1)
    assert e.value.code == "client_closed"
    assert "closed" in repr(c)


def test_helpers():
    assert cs.make_reference("task", 42, "2024-01-05") == "task_42_2024-01-05"
    assert cs.make_reference("a_b", "c") != cs.make_reference("a", "b_c")
    long = cs.make_reference("x" * 300)
    assert len(long) <= 128
    assert (
        cs.generate_token(123456789, -50, "media_bot", 1700000000, "your-secret-key-here")
        == "532d3aff75d32890c2430ab0b5749bc4ed33bdcdb6ebd5292fc1f747e886c186"
    )


async def _async_all_methods(base_url, uid):
    async with AsyncCreditSyncClient(base_url, **MEDIA) as c:
        r = await c.add_credits(uid, 100, "a", reference=f"async{uid}")
        assert r.success and r.balance == 100
        r = await c.deduct_credits(uid, 1000, "b")
        assert r.code == "insufficient_credits"
        r = await c.batch_sync([{"telegram_id": uid, "amount": 5, "reason": "c"}])
        assert r.data["success"] == 1
        assert (await c.get_balance(uid))["credits"] == 105
        assert len((await c.get_records(uid, limit=5))["records"]) == 2
        assert (await c.register_user(uid, "zed"))["nickname"] == "zed"
        with pytest.raises(TypeError, match="amount"):
            await c.add_credits(uid, "x", "y")
        bad = AsyncCreditSyncClient(base_url, "nope", "x", "media_bot")
        with pytest.raises(AuthenticationError):
            await bad.get_balance(uid)
    r = await c.add_credits(uid, 1, "closed")
    assert r.code == "client_closed"


def test_async_client_all_methods(base_url, new_id):
    import asyncio

    asyncio.run(_async_all_methods(base_url, new_id()))
