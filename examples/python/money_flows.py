"""The money flows, the way a bot uses them, in the guide's style (check ``.success``).

An AI bot holds credits while a job runs and charges only what it used; a shop refunds
an order; a user gifts credits to a friend; a Telegram Stars purchase is credited (and
refunded) exactly once, however often Telegram tells us.

Start the demo server (`credit-sync-server demo`), then run this file.
`CREDIT_SYNC_BASE_URL` overrides the address. Exits 0 when everything behaves as
described.
"""

import os
import sys
import time
from typing import Any, Dict, List, Optional

from credit_sync_client import CreditSyncClient

BASE_URL = os.environ.get("CREDIT_SYNC_BASE_URL", "http://127.0.0.1:8080")

client = CreditSyncClient(
    base_url=BASE_URL,
    api_key="media-bot-api-key-2024",
    secret_key="your-secret-key-here",
    source="media_bot",
)

failures: List[str] = []


def check(ok: bool, what: str) -> None:
    print(f"  {'ok' if ok else 'FAILED'}: {what}")
    if not ok:
        failures.append(what)


def generate_image(succeeds: bool) -> Optional[int]:
    """Stands in for the bot's real work: returns what it cost, or None when it failed."""
    return 12 if succeeds else None


run_id = int(time.time() * 1000)
user = 300_000_000 + run_id % 100_000_000 * 10
friend = user + 1
client.add_credits(user, 100, "welcome bonus")

print("1. an AI job: hold the most it may cost, charge what it used")
hold = client.hold_credits(user, 20, "image generation", ttl_seconds=300)
if not hold.success:
    print(f"❌ cannot start the job: {hold.message}")
    sys.exit(1)
print(f"  held {hold.held}, available {hold.available}")
check(hold.available == 80, "the hold is out of reach")
assert hold.hold_id is not None
cost = generate_image(succeeds=True)
if cost is not None:
    captured = client.capture_hold(hold.hold_id, amount=cost)
    print(f"  charged {cost}, balance {captured.credits}")
    check(captured.success and captured.credits == 88 and captured.held == 0,
          "charged 12, the other 8 released")
else:
    client.void_hold(hold.hold_id)

failed_job = client.hold_credits(user, 20, "image generation")
assert failed_job.hold_id is not None
if generate_image(succeeds=False) is None:
    voided = client.void_hold(failed_job.hold_id)
    check(voided.success and voided.state == "voided", "a failed job costs nothing")
late = client.capture_hold(failed_job.hold_id)
print(f"  a late capture: {late.code} ({late.message})")
check(not late.success and late.state == "voided", "a hold resolves once")

print("2. the shop refunds an order")
order = f"order_{run_id}-poster"
client.deduct_credits(user, 40, "poster", reference=order)
refund = client.reverse_record(reference=order, amount=15, reason="poster arrived damaged")
print(f"  gave back {refund.change}, {refund.remaining} left to refund, balance {refund.balance}")
check(refund.success and refund.balance == 63 and refund.remaining == 25, "partial refund")
too_much = client.reverse_record(reference=order, amount=26, reason="again")
check(too_much.code == "reversal_exceeds_record", "never more than the order")

print("3. a gift to a friend")
gift = client.transfer_credits(user, friend, 30, "birthday gift")
if gift.success and gift.sender and gift.receiver:
    print(f"  {user} now has {gift.sender['balance']}, {friend} has {gift.receiver['balance']}")
    check(gift.sender["balance"] == 33 and gift.receiver["balance"] == 30,
          "both balances moved together")
else:
    check(False, f"gift: {gift.message}")

print("4. a Telegram Stars purchase (successful_payment), delivered twice")
# aiogram's or python-telegram-bot's `message.successful_payment` works as it is; a dict too.
payment: Dict[str, Any] = {
    "currency": "XTR",
    "total_amount": 25,
    "telegram_payment_charge_id": f"stxDemo{run_id}",
    "invoice_payload": "pack-100",  # never the key: an old invoice can be paid again
}
paid = client.credit_stars_payment(user, payment, credits_per_star=4)
again = client.credit_stars_payment(user, payment, credits_per_star=4)
print(f"  credited {paid.change}, balance {paid.balance}; again: duplicate {again.duplicate}")
check(paid.balance == 133 and again.duplicate and again.balance == 133, "one credit per charge id")
dollars = client.credit_stars_payment(user, dict(payment, currency="USD"))
check(not dollars.success, "only XTR payments buy credits")
print("  refundStarPayment, then the refunded_payment update")
refunded = client.refund_stars_payment(payment["telegram_payment_charge_id"], "Stars refunded")
told_again = client.refund_stars_payment(payment["telegram_payment_charge_id"], "Stars refunded")
check(refunded.balance == 33 and told_again.duplicate, "one refund, however often it is told")

balance = client.get_balance(user)
assert balance is not None
print(f"balance: {balance['credits']} credits, {balance['held']} held, {balance['available']} available")
check(balance["credits"] == 33 and balance["held"] == 0, "the ledger adds up")

client.close()
if failures:
    print(f"money flows: {len(failures)} check(s) failed")
    sys.exit(1)
print("money flows: every scenario behaved as described")
