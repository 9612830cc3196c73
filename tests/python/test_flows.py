"""The money flows through both Python clients against the real server: holds (capture,
void, replays, ``hold_resolved``), reversals, transfers and Telegram Stars purchases, with
a dict, a plain object, and aiogram's and python-telegram-bot's ``SuccessfulPayment``."""

import asyncio

import pytest

import credit_sync_client as cs
from conftest import MEDIA
from drop_proxy import DropProxy
from credit_sync_client import (
    AsyncCreditSyncClient,
    ConflictError,
    CreditSyncClient,
    CreditSyncError,
    HoldResolvedError,
    HoldResult,
    NotFoundError,
    ReverseResult,
    TransferResult,
)


@pytest.fixture
def client(base_url):
    with CreditSyncClient(base_url, **MEDIA) as c:
        yield c


def funded(client, new_id, credits=100):
    user = new_id()
    assert client.add_credits(user, credits, "top up").success
    return user


def view(client, user):
    b = client.get_balance(user)
    return b["credits"], b["held"], b["available"]


def test_flow_classes_and_errors_are_documented_and_in_the_hierarchy():
    for cls in (HoldResult, ReverseResult, TransferResult):
        assert cls.__doc__ and cls.__module__ == "credit_sync_client"
        for attr in dir(cls):
            if not attr.startswith("_"):
                assert getattr(cls, attr).__doc__, f"{cls.__name__}.{attr}"
    for exc in (NotFoundError, ConflictError, HoldResolvedError):
        assert issubclass(exc, CreditSyncError)
    assert issubclass(HoldResolvedError, ConflictError)
    assert HoldResolvedError("x").hold is None


def test_hold_then_partial_capture(client, new_id):
    user = funded(client, new_id)
    hold = client.hold_credits(user, 60, "generation job", ttl_seconds=120)
    assert hold.success and not hold.duplicate, hold
    assert (hold.credits, hold.held, hold.available) == (100, 60, 40)
    assert hold.state == "open" and hold.hold["amount"] == 60
    assert hold.hold_id and hold.hold_id.startswith("hold_")
    assert hold.reference.startswith("auto-")
    assert view(client, user) == (100, 60, 40)
    holds = client.get_holds(user)
    assert [h["hold_id"] for h in holds["holds"]] == [hold.hold_id]
    assert (holds["held"], holds["available"]) == (60, 40)

    # Held credits count: a deduct beyond what is available is refused.
    assert client.deduct_credits(user, 50, "spend").code == "insufficient_credits"

    captured = client.capture_hold(hold.hold_id, amount=25, reference="job-done")
    assert captured.success, captured
    assert (captured.credits, captured.held, captured.available) == (75, 0, 75)
    assert captured.state == "captured" and captured.hold["captured"] == 25
    assert view(client, user) == (75, 0, 75)
    assert client.get_holds(user)["holds"] == []

    again = client.capture_hold(hold.hold_id, amount=25, reference="job-done")
    assert again.success and again.duplicate
    assert again.hold["record_id"] == captured.hold["record_id"]

    other = client.capture_hold(hold.hold_id)
    assert not other.success and other.code == "hold_resolved"
    assert other.state == "captured" and other.hold["captured"] == 25
    with pytest.raises(HoldResolvedError) as info:
        other.raise_for_error()
    assert info.value.code == "hold_resolved"
    assert info.value.hold["state"] == "captured"
    assert info.value.reference == other.reference
    assert view(client, user) == (75, 0, 75)


def test_hold_then_void(client, new_id):
    user = funded(client, new_id, 50)
    hold = client.hold_credits(user, 50, "job", reference=f"job-{user}")
    assert view(client, user) == (50, 50, 0)
    assert client.hold_credits(user, 1, "job").code == "insufficient_credits"
    voided = client.void_hold(hold.hold_id)
    assert voided.success and voided.state == "voided"
    assert view(client, user) == (50, 0, 50)
    assert client.void_hold(hold.hold_id).code == "hold_resolved"
    assert client.capture_hold(hold.hold_id).hold["state"] == "voided"

    hold = client.hold_credits(user, 10, "job")
    assert client.capture_hold(hold.hold_id, amount=11).code == "invalid_amount"
    missing = client.capture_hold("hold_000000000000000000000000")
    assert missing.code == "hold_not_found"
    with pytest.raises(NotFoundError):
        missing.raise_for_error()
    bad = client.void_hold("not-a-hold")
    assert (bad.code, bad.attempts) == ("invalid_argument", 0)
    assert client.get_holds(new_id()) is None


def test_reverse_partially_then_the_rest(client, new_id):
    user = new_id()
    order = client.add_credits(user, 100, "order paid", reference=f"order-{user}")
    part = client.reverse_record(reference=f"order-{user}", amount=30, reason="partial refund",
                                 reversal_reference=f"refund-{user}")
    assert part.success, part
    assert (part.change, part.balance, part.reversed, part.remaining) == (-30, 70, 30, 70)
    assert part.reverses == order.record_id
    replay = client.reverse_record(reference=f"order-{user}", amount=30, reason="partial refund",
                                   reversal_reference=f"refund-{user}")
    assert replay.duplicate and replay.record_id == part.record_id
    rest = client.reverse_record(order.record_id, reason="refund")
    assert (rest.balance, rest.reversed, rest.remaining) == (0, 100, 0)
    beyond = client.reverse_record(order.record_id, amount=1, reason="more")
    assert beyond.code == "reversal_exceeds_record"
    with pytest.raises(ConflictError):
        beyond.raise_for_error()
    assert client.reverse_record(reference="no-such-order").code == "record_not_found"
    assert client.reverse_record().code == "invalid_argument"
    assert client.reverse_record(1, reference="x").code == "invalid_argument"
    records = client.get_records(user)["records"]
    assert records[0]["reverses"] == order.record_id


def test_transfer_and_its_replay(client, new_id):
    sender = funded(client, new_id)
    receiver = new_id()
    moved = client.transfer_credits(sender, receiver, 40, "gift", reference=f"gift-{sender}")
    assert moved.success, moved
    assert moved.transfer_id.startswith("tr_") and moved.amount == 40
    assert (moved.sender["change"], moved.sender["balance"]) == (-40, 60)
    assert (moved.receiver["change"], moved.receiver["balance"]) == (40, 40)
    again = client.transfer_credits(sender, receiver, 40, "gift", reference=f"gift-{sender}")
    assert again.duplicate and again.transfer_id == moved.transfer_id
    assert view(client, sender)[0] == 60 and view(client, receiver)[0] == 40
    assert client.transfer_credits(sender, receiver, 61, "gift").code == "insufficient_credits"
    assert client.transfer_credits(sender, sender, 1, "gift").code == "invalid_field"


class Payment:
    """Any object with the three attributes a credit reads."""

    def __init__(self, charge_id, total_amount=50, currency="XTR"):
        self.currency = currency
        self.total_amount = total_amount
        self.telegram_payment_charge_id = charge_id
        self.invoice_payload = "ignored: an old invoice may be paid again"


def stars_payments(user):
    yield "dict", {"currency": "XTR", "total_amount": 50, "telegram_payment_charge_id": f"d{user}"}
    yield "object", Payment(f"o{user}")
    try:
        from aiogram.types import SuccessfulPayment as AiogramPayment
    except ImportError:
        pass
    else:
        yield "aiogram", AiogramPayment(currency="XTR", total_amount=50, invoice_payload="p",
                                        telegram_payment_charge_id=f"a{user}",
                                        provider_payment_charge_id="")
    try:
        from telegram import SuccessfulPayment as PtbPayment
    except ImportError:
        pass
    else:
        yield "python-telegram-bot", PtbPayment(currency="XTR", total_amount=50, invoice_payload="p",
                                                telegram_payment_charge_id=f"t{user}",
                                                provider_payment_charge_id="")


def test_framework_payment_objects_are_installed():
    """scripts/install-python.sh installs both, so the Stars test covers their real objects."""
    kinds = [kind for kind, _ in stars_payments(1)]
    assert kinds == ["dict", "object", "aiogram", "python-telegram-bot"]


def test_stars_credit_twice_is_one_credit_and_refund_twice_is_one_refund(client, new_id):
    for kind, payment in stars_payments(new_id()):
        user = new_id()
        paid = client.credit_stars_payment(user, payment, credits_per_star=10)
        assert paid.success and not paid.duplicate, (kind, paid)
        assert paid.balance == 500
        assert paid.reference.startswith("stars:")
        redelivered = client.credit_stars_payment(user, payment, credits_per_star=10)
        assert redelivered.duplicate, kind
        assert client.get_balance(user)["credits"] == 500
        charge_id = paid.reference[len("stars:"):]
        refund = client.refund_stars_payment(charge_id, "refunded")
        assert refund.success and not refund.duplicate, (kind, refund)
        assert refund.balance == 0
        told_again = client.refund_stars_payment(charge_id, "refunded")
        assert told_again.success and told_again.duplicate, kind
        assert client.get_balance(user)["credits"] == 0


def test_only_stars_payments_are_credited(client, new_id):
    user = new_id()
    assert client.credit_stars_payment(user, Payment("c1", currency="USD")).code == "invalid_argument"
    assert client.credit_stars_payment(user, Payment("c2", total_amount=0)).code == "invalid_argument"
    with pytest.raises(TypeError, match="telegram_payment_charge_id"):
        client.credit_stars_payment(user, {"currency": "XTR", "total_amount": 5})
    with pytest.raises(TypeError, match="total_amount"):
        client.credit_stars_payment(user, Payment("c3", total_amount="5"))
    assert client.get_balance(user) is None


def test_the_async_client_has_every_flow(base_url, new_id):
    async def main():
        async with AsyncCreditSyncClient(base_url, **MEDIA) as c:
            user = new_id()
            await c.add_credits(user, 100, "top up", reference=f"top-{user}")
            hold = await c.hold_credits(user, 30, "job")
            assert (hold.held, hold.available) == (30, 70)
            assert (await c.get_holds(user))["held"] == 30
            captured = await c.capture_hold(hold.hold_id, 10, reference=f"cap-{user}")
            assert captured.available == 90
            assert (await c.capture_hold(hold.hold_id, 10, reference=f"cap-{user}")).duplicate
            assert (await c.void_hold(hold.hold_id)).code == "hold_resolved"
            hold = await c.hold_credits(user, 5, "job")
            assert (await c.void_hold(hold.hold_id)).state == "voided"
            reversed_ = await c.reverse_record(reference=f"top-{user}", amount=10, reason="undo")
            assert reversed_.balance == 80
            moved = await c.transfer_credits(user, new_id(), 30, "gift")
            assert moved.sender["balance"] == 50
            payment = Payment(f"async{user}", total_amount=2)
            assert (await c.credit_stars_payment(user, payment, 5)).balance == 60
            assert (await c.credit_stars_payment(user, payment, 5)).duplicate
            assert (await c.refund_stars_payment(f"async{user}")).balance == 50
            assert (await c.refund_stars_payment(f"async{user}")).duplicate
            b = await c.get_balance(user)
            assert (b["credits"], b["held"], b["available"]) == (50, 0, 50)

    asyncio.run(main())


def test_a_closed_client_reports_the_reference_it_would_have_sent(base_url):
    c = CreditSyncClient(base_url, **MEDIA)
    c.close()
    r = c.capture_hold("hold_000000000000000000000000", reference="cap-x")
    assert (r.success, r.code, r.reference) == (False, "client_closed", "cap-x")
    r = c.refund_stars_payment("ch1", "refund")
    assert r.reference == "stars-refund:ch1"
    assert cs.ReverseResult is type(r)


FORK_SCRIPT = """
import asyncio, os
from credit_sync_client import CreditSyncClient, AsyncCreditSyncClient
KEYS = dict(api_key="media-bot-api-key-2024", secret_key="your-secret-key-here", source="media_bot")
client = CreditSyncClient(os.environ["BASE_URL"], **KEYS)
aclient = AsyncCreditSyncClient(os.environ["BASE_URL"], **KEYS)
user = int(os.environ["USER_ID"])
assert client.add_credits(user, 100, "top up").success
for round in range(5):
    hold = client.hold_credits(user, 2, "parent")
    assert hold.success, hold
    pid = os.fork()
    if pid == 0:
        ok = client.capture_hold(hold.hold_id, 1).success
        ok = ok and client.get_holds(user) is not None
        other = asyncio.run(aclient.hold_credits(user, 1, "child async"))
        ok = ok and other.success and asyncio.run(aclient.void_hold(other.hold_id)).success
        os._exit(0 if ok else 3)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0, (round, status)
    assert client.get_holds(user)["held"] == 0
print("fork ok", client.get_balance(user)["credits"])
"""


def test_the_flows_work_in_a_forked_child(run_py, new_id):
    """The fork-safety of every call (the fork count read before the client is resolved)
    holds for the new calls too: the child uses the parent's clients, nothing hangs."""
    proc = run_py(FORK_SCRIPT, timeout=90, USER_ID=str(new_id()))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "fork ok 95" in proc.stdout
    for noise in ("Traceback", "panicked", "PanicException", "Fatal Python error"):
        assert noise not in proc.stderr, proc.stderr


def test_a_lost_capture_or_transfer_is_retried_with_its_reference(client, base_url, new_id):
    """Every answer through the proxy is lost after the server applied the call: the
    result says which reference it carried, and the call again with it is a replay."""
    user = funded(client, new_id)
    hold = client.hold_credits(user, 30, "job")
    proxy = DropProxy(base_url)
    try:
        lossy = CreditSyncClient(proxy.base_url, **MEDIA, max_retries=1)
        lost = lossy.capture_hold(hold.hold_id, 20)
        assert (lost.success, lost.code, lost.retryable) == (False, "connection_error", True)
        assert lost.reference.startswith("auto-") and lost.attempts == 2
        again = client.capture_hold(hold.hold_id, 20, reference=lost.reference)
        assert again.success and again.duplicate, again
        friend = new_id()
        moved = lossy.transfer_credits(user, friend, 10, "gift")
        assert (moved.success, moved.retryable) == (False, True)
        replay = client.transfer_credits(user, friend, 10, "gift", reference=moved.reference)
        assert replay.success and replay.duplicate, replay
        assert view(client, friend)[0] == 10, "moved exactly once"
        lossy.close()
    finally:
        proxy.close()
    assert view(client, user)[1] == 0
