"""Type-checked with `mypy --strict` by run.sh: the stubs must describe the API as used."""

import asyncio
from typing import List, Optional

from credit_sync_client import (
    AsyncCreditSyncClient,
    CreditSyncClient,
    CreditSyncError,
    InsufficientCreditsError,
    SyncResult,
    generate_token,
    make_reference,
)


def sync_usage(client: CreditSyncClient) -> int:
    result: SyncResult = client.add_credits(1, 100, "reward", reference=make_reference("video", 1))
    if not result.success:
        return -1
    balance: Optional[int] = result.balance
    dup: bool = result.duplicate
    try:
        client.deduct_credits(1, 5, "spend").raise_for_error()
    except InsufficientCreditsError as e:
        print(e.code, e.balance)
    except CreditSyncError as e:
        print(e.code, e.message)
    batch = client.batch_sync([{"telegram_id": 1, "amount": 5, "reason": "x"}])
    counts = batch.data["success"] if batch.data else 0
    info = client.get_balance(1)
    credits: int = info["credits"] if info else 0
    page = client.get_records(1, limit=5)
    changes: List[int] = [r["change"] for r in page["records"]]
    cursor: Optional[str] = page["next_cursor"]
    user = client.register_user(1, "alice")
    created: bool = user["created"]
    token: str = generate_token(1, 100, "media_bot", 1700000000, "secret")
    print(balance, dup, counts, changes, cursor, created, token)
    return credits


async def async_usage() -> None:
    async with AsyncCreditSyncClient("http://127.0.0.1:8080", "k", "s", "src", timeout=5.0) as client:
        results = await asyncio.gather(*[client.add_credits(1, 1, "x") for _ in range(3)])
        ok: List[bool] = [r.success for r in results]
        info = await client.get_balance(1)
        print(ok, info["credits"] if info else None)


with CreditSyncClient.from_env(max_retries=1) as c:
    sync_usage(c)
