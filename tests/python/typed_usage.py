"""Type-checked with `mypy --strict` by run.sh: the stubs must describe the API as used."""

import asyncio
from typing import Any, Dict, List, Optional

from credit_sync_client import (
    AsyncCreditSyncClient,
    ConflictError,
    CreditSyncClient,
    CreditSyncError,
    CursorExpiredError,
    Event,
    HoldResolvedError,
    HoldResult,
    InsufficientCreditsError,
    NotFoundError,
    ReverseResult,
    SyncResult,
    TransferResult,
    WebhookVerificationError,
    generate_token,
    make_reference,
    verify_webhook,
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


class Payment:
    currency = "XTR"
    total_amount = 50
    telegram_payment_charge_id = "stx_1"


def flows_usage(client: CreditSyncClient) -> int:
    hold: HoldResult = client.hold_credits(1, 30, "generation job", ttl_seconds=120)
    hold_id: Optional[str] = hold.hold_id
    held: Optional[int] = hold.held
    available: Optional[int] = hold.available
    if hold_id is not None:
        captured = client.capture_hold(hold_id, amount=20)
        state = captured.hold["state"] if captured.hold else None
        try:
            client.void_hold(hold_id).raise_for_error()
        except HoldResolvedError as e:
            final = e.hold["state"] if e.hold else None
            print(final)
        except (NotFoundError, ConflictError) as e:
            print(e.code)
        print(state, captured.duplicate)
    holds = client.get_holds(1)
    open_ids: List[str] = [h["hold_id"] for h in holds["holds"]] if holds else []
    reversal: ReverseResult = client.reverse_record(7, amount=5, reason="refund")
    by_reference = client.reverse_record(reference="order_1", reason="refund")
    remaining: Optional[int] = by_reference.remaining
    transfer: TransferResult = client.transfer_credits(1, 2, 10, "gift")
    sender_balance = transfer.sender["balance"] if transfer.sender else None
    paid: SyncResult = client.credit_stars_payment(1, Payment(), credits_per_star=10)
    paid_again = client.credit_stars_payment(
        1, {"currency": "XTR", "total_amount": 50, "telegram_payment_charge_id": "stx_1"}
    )
    refund: ReverseResult = client.refund_stars_payment("stx_1", "refunded")
    info = client.get_balance(1)
    spendable: int = info["available"] if info else 0
    print(held, available, open_ids, reversal.reversed, remaining, sender_balance)
    print(paid.duplicate, paid_again.duplicate, refund.duplicate)
    return spendable


async def async_usage() -> None:
    async with AsyncCreditSyncClient("http://127.0.0.1:8080", "k", "s", "src", timeout=5.0) as client:
        results = await asyncio.gather(*[client.add_credits(1, 1, "x") for _ in range(3)])
        ok: List[bool] = [r.success for r in results]
        info = await client.get_balance(1)
        print(ok, info["credits"] if info else None)
        hold = await client.hold_credits(1, 5, "job")
        if hold.hold_id:
            done: HoldResult = await client.void_hold(hold.hold_id)
            print(done.state)
        moved: TransferResult = await client.transfer_credits(1, 2, 1, "gift")
        refunded: ReverseResult = await client.refund_stars_payment("stx_1")
        holds = await client.get_holds(1)
        print(moved.transfer_id, refunded.success, holds["held"] if holds else None)


def events_usage(client: CreditSyncClient, stored: Optional[str]) -> Optional[str]:
    page = client.get_events(after=stored, limit=50, wait=10)
    events: List[Event] = page["events"]
    cursor: str = page["next_cursor"]
    try:
        for event in client.iter_events(after=cursor):
            data: Dict[str, Any] = event.data
            source: Optional[str] = event.source
            print(event.id, event.seq, event.type, event.created_at, event.telegram_id, source, data)
            return event.cursor
    except CursorExpiredError as e:
        print(e.code)
    print(len(events))
    return None


def records_usage(client: CreditSyncClient) -> int:
    total = 0
    for record in client.iter_records(1, page_size=50):
        change: int = record["change"]
        reverses: Optional[int] = record["reverses"]
        total += change
        print(record["reason"], reverses)
    return total


async def async_records_usage(client: AsyncCreditSyncClient) -> List[str]:
    return [r["reason"] async for r in client.iter_records(1)]


def webhook_usage(headers: Dict[str, str], body: bytes) -> Optional[Event]:
    try:
        verify_webhook(list(headers.items()), body.decode(), ["whsec_old", "whsec_new"])
        return verify_webhook(headers, body, "whsec_abc")
    except WebhookVerificationError as e:
        print(e.code)
        return None


async def async_events_usage(client: AsyncCreditSyncClient, stored: Optional[str]) -> str:
    page = await client.get_events(after=stored, wait=5)
    async for event in client.iter_events(after=page["next_cursor"]):
        if event.type == "credits.added" and event.source != client.source:
            return event.cursor
    return page["next_cursor"]


with CreditSyncClient.from_env(max_retries=1) as c:
    sync_usage(c)
    flows_usage(c)
