"""One client under load: asyncio.gather, shared between threads, and a deduct race."""

import asyncio
import threading

from conftest import MEDIA
from credit_sync_client import AsyncCreditSyncClient


def test_asyncio_gather_100_concurrent_calls(base_url, new_id):
    uid = new_id()

    async def main():
        client = AsyncCreditSyncClient(base_url, **MEDIA)
        adds = await asyncio.gather(*[client.add_credits(uid, 1, f"gather {i}") for i in range(100)])
        reads = await asyncio.gather(*[client.get_balance(uid) for _ in range(100)])
        return adds, reads

    adds, reads = asyncio.run(main())
    assert all(r.success for r in adds)
    assert sorted(r.balance for r in adds) == list(range(1, 101))
    assert all(b["credits"] == 100 for b in reads)


def test_eight_threads_share_one_client(client, new_id):
    uid = new_id()
    errors = []

    def work(n):
        try:
            for i in range(25):
                r = client.add_credits(uid, 1, f"thread {n}", reference=f"t{uid}-{n}-{i}")
                assert r.success, r
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert client.get_balance(uid)["credits"] == 200
    assert len(client.get_records(uid, limit=200)["records"]) == 200


def test_deduct_race_never_overdraws(client, new_id):
    uid = new_id()
    client.add_credits(uid, 100, "seed")
    results = []
    lock = threading.Lock()

    def spend():
        for _ in range(10):
            r = client.deduct_credits(uid, 3, "race")
            with lock:
                results.append(r)

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ok = [r for r in results if r.success]
    failed = [r for r in results if not r.success]
    assert len(ok) == 33  # 33 * 3 = 99 <= 100 < 34 * 3
    assert all(r.code == "insufficient_credits" for r in failed)
    assert all(r.balance is not None and r.balance >= 0 for r in results)
    assert client.get_balance(uid)["credits"] == 1


def test_async_deduct_race_never_overdraws(base_url, new_id):
    uid = new_id()

    async def main():
        client = AsyncCreditSyncClient(base_url, **MEDIA)
        await client.add_credits(uid, 50, "seed")
        rs = await asyncio.gather(*[client.deduct_credits(uid, 7, "race") for _ in range(20)])
        return rs, await client.get_balance(uid)

    rs, balance = asyncio.run(main())
    assert sum(r.success for r in rs) == 7 and balance["credits"] == 1
