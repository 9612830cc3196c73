"""Issue 11 item 4: a write whose answer is lost says which reference it carried, and
the retry with `reference=result.reference` applies exactly once."""

import asyncio

import pytest

from conftest import MEDIA
from credit_sync_client import AsyncCreditSyncClient, CreditSyncClient, TransportError
from drop_proxy import DropProxy


@pytest.fixture
def lossy(base_url):
    proxy = DropProxy(base_url)
    yield proxy
    proxy.close()


def test_unknown_outcome_then_retry_with_the_carried_reference(client, lossy, new_id):
    uid = new_id()
    assert client.add_credits(uid, 100, "seed").success
    c = CreditSyncClient(lossy.base_url, **MEDIA, max_retries=1)
    r = c.add_credits(uid, 7, "reward")  # no reference: the SDK makes an auto-<uuid v7> one
    assert not r.success and r.code == "connection_error"
    assert r.reference is not None and r.reference.startswith("auto-")
    assert (r.attempts, r.retryable, r.telegram_id, r.change) == (2, True, uid, 7)
    assert lossy.forwarded == 2, "both attempts reached the server"
    with pytest.raises(TransportError) as e:
        r.raise_for_error()
    assert (e.value.reference, e.value.attempts, e.value.retryable) == (r.reference, 2, True)

    again = client.add_credits(uid, 7, "reward", reference=r.reference)
    assert again.success and again.duplicate, "the lost change had been applied"
    assert client.get_balance(uid)["credits"] == 107, "applied exactly once"
    assert len(client.get_records(uid, limit=10)["records"]) == 2

    d = c.deduct_credits(uid, 5, "spend")
    assert not d.success and d.change == -5 and d.reference.startswith("auto-")
    assert client.deduct_credits(uid, 5, "spend", reference=d.reference).duplicate
    assert client.get_balance(uid)["credits"] == 102
    c.close()


def test_async_client_carries_the_reference_too(client, lossy, new_id):
    uid = new_id()

    async def lost():
        c = AsyncCreditSyncClient(lossy.base_url, **MEDIA, max_retries=0)
        r = await c.add_credits(uid, 3, "reward", reference=f"lost_{uid}")
        c.close()
        return r

    r = asyncio.run(lost())
    assert not r.success and r.reference == f"lost_{uid}" and r.attempts == 1 and r.retryable
    assert client.add_credits(uid, 3, "reward", reference=r.reference).duplicate
    assert client.get_balance(uid)["credits"] == 3
