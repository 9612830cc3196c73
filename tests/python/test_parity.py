"""Issue 11 item 5: every failure kind of the shared table tests/parity/failures.json,
provoked against the real server. A write resolves with `success == False` and the
kind's code and carried reference; `raise_for_error()` raises the table's class; a read
in the same situation raises it. tests/node/parity.test.js checks the same table."""

import json
import pathlib

import pytest

import credit_sync_client as cs
from conftest import LIMITED, MEDIA, READER
from fake_server import closed_port_url

TABLE = json.loads((pathlib.Path(__file__).resolve().parents[1] / "parity" / "failures.json").read_text())
CASES = TABLE["cases"]


def provoke(scenario, base_url, uid):
    """Returns (client, failed write result) for a scenario of the table."""
    ref = f"parity_{scenario}_{uid}"
    if scenario == "deduct_more_than_balance":
        c = cs.CreditSyncClient(base_url, **MEDIA)
        assert c.add_credits(uid, 10, "seed").success
        return c, c.deduct_credits(uid, 500, "too much", reference=ref)
    if scenario == "reuse_reference":
        c = cs.CreditSyncClient(base_url, **MEDIA)
        assert c.add_credits(uid, 5, "first", reference=ref).success
        return c, c.add_credits(uid, 6, "first", reference=ref)
    if scenario == "unknown_user_without_auto_register":
        c = cs.CreditSyncClient(base_url, **READER)
        return c, c.add_credits(uid, 5, "x", reference=ref)
    if scenario == "wrong_api_key":
        c = cs.CreditSyncClient(base_url, "wrong-key", MEDIA["secret_key"], MEDIA["source"])
        return c, c.add_credits(uid, 5, "x", reference=ref)
    if scenario == "zero_amount":
        c = cs.CreditSyncClient(base_url, **MEDIA)
        return c, c.add_credits(uid, 0, "x", reference=ref)
    if scenario == "over_the_rate_limit":
        c = cs.CreditSyncClient(base_url, **LIMITED, max_retries=0)
        for i in range(20):
            r = c.add_credits(uid, 1, "x", reference=f"{ref}_{i}")
            if not r.success:
                return c, r
        raise AssertionError("never rate limited")
    if scenario == "closed_port":
        c = cs.CreditSyncClient(closed_port_url(), **MEDIA, max_retries=0)
        return c, c.add_credits(uid, 5, "x", reference=ref)
    if scenario == "closed_client":
        c = cs.CreditSyncClient(base_url, **MEDIA)
        c.close()
        return c, c.add_credits(uid, 5, "x", reference=ref)
    if scenario == "capture_an_unknown_hold":
        c = cs.CreditSyncClient(base_url, **MEDIA)
        return c, c.capture_hold("hold_000000000000000000000000", reference=ref)
    if scenario == "capture_a_voided_hold":
        c = cs.CreditSyncClient(base_url, **MEDIA)
        assert c.add_credits(uid, 10, "seed").success
        hold = c.hold_credits(uid, 5, "job")
        assert c.void_hold(hold.hold_id).success
        return c, c.capture_hold(hold.hold_id, reference=ref)
    if scenario == "reverse_more_than_the_record":
        c = cs.CreditSyncClient(base_url, **MEDIA)
        order = c.add_credits(uid, 10, "order")
        return c, c.reverse_record(order.record_id, amount=11, reason="refund", reversal_reference=ref)
    raise AssertionError(f"unknown scenario {scenario}")


def test_the_table_covers_every_exception_class():
    classes = {case["python"] for case in CASES}
    assert {"InsufficientCreditsError", "ReferenceConflictError", "UserNotFoundError", "AuthenticationError",
            "ValidationError", "RateLimitError", "TransportError", "NotFoundError", "HoldResolvedError",
            "ConflictError"} <= classes


@pytest.mark.parametrize("case", CASES, ids=[c["kind"] for c in CASES])
def test_failure_parity(case, base_url, new_id):
    uid = new_id()
    c, r = provoke(case["scenario"], base_url, uid)
    assert not r.success, r
    assert r.code == case["code"], r
    assert r.retryable is case["retryable"], r
    assert r.reference is not None and r.reference.startswith("parity_"), r
    if not case.get("flow"):
        assert r.telegram_id == uid
    cls = getattr(cs, case["python"])
    with pytest.raises(cls) as e:
        r.raise_for_error()
    assert type(e.value) is cls, f"{type(e.value).__name__} is not exactly {cls.__name__}"
    assert e.value.code == case["code"] and e.value.reference == r.reference
    if case["read"]:
        with pytest.raises(cls) as e:
            c.get_records(uid)
        assert e.value.code == case["code"]
    c.close()
