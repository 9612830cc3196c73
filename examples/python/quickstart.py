"""The guide's Python quick start and its four common scenarios, runnable.

Start the demo server (`credit-sync-server demo`, listening on 127.0.0.1:8080
with the guide's credentials), then run this file. `CREDIT_SYNC_BASE_URL`
overrides the address. Exits 0 when everything behaves as the guide says.
"""

import os
import sys
import time
from typing import List

from credit_sync_client import CreditSyncClient

BASE_URL = os.environ.get("CREDIT_SYNC_BASE_URL", "http://127.0.0.1:8080")

# Step 3: create a client (the guide's constructor, with the demo server's address).
client = CreditSyncClient(
    base_url=BASE_URL,  # API address
    api_key="media-bot-api-key-2024",  # your API key
    secret_key="your-secret-key-here",  # sync secret
    source="media_bot",  # your project's identifier
)

# Step 4: use it.
result = client.add_credits(
    telegram_id=123456789,
    amount=100,
    reason="观看视频奖励",  # "reward for watching a video"
    reference="video_12345",  # optional, used for de-duplication
)

if result.success:
    print(f"✅ OK! balance: {result.balance}")
else:
    print(f"❌ failed: {result.message}")
    sys.exit(1)

balance = client.get_balance(123456789)
assert balance is not None
print(f"current credits: {balance['credits']}")

# The common scenarios, for a user of our own (so the script can run again and again).
telegram_id = 900_000_000 + int(time.time()) % 100_000_000
video_id = "42"
order_id = f"{telegram_id}-1"
granted: List[int] = []
notices: List[str] = []


def grant_vip_privilege(user: int) -> None:
    granted.append(user)


def notify_user(message: str) -> None:
    notices.append(message)
    print(f"  -> tell the user: {message}")


def show_available_items(credits: int) -> None:
    print(f"  -> shop shows items up to {credits} credits")


# 1. The user watched a video: 50 credits, once per video.
result = client.add_credits(
    telegram_id=telegram_id,
    amount=50,
    reason="观看视频《修仙之路》",  # "watched the video 'Path of Cultivation'"
    reference=f"video_{video_id}",  # prevents rewarding twice
)
again = client.add_credits(telegram_id, 50, "观看视频《修仙之路》", reference=f"video_{video_id}")
print(f"1. video reward: success={result.success}, balance={result.balance}, replay duplicate={again.duplicate}")
ok = result.success and again.duplicate and again.balance == 50

# 2. The user buys VIP for 500 credits: with 50 credits the shop says no.
result = client.deduct_credits(
    telegram_id=telegram_id,
    amount=500,
    reason="购买VIP会员",  # "bought VIP membership"
    reference=f"order_{order_id}",
)
if result.success:
    grant_vip_privilege(telegram_id)
else:
    notify_user("积分不足，请先赚取积分")  # "not enough credits, earn some first"
print(f"2. buy VIP: success={result.success}, code={result.code}")
ok = ok and not result.success and result.code == "insufficient_credits" and not granted

# 3. Batch rewards at the end of a campaign.
winners = [
    {"telegram_id": 123456, "amount": 1000, "reason": "活动第1名"},  # "campaign 1st place"
    {"telegram_id": 789012, "amount": 500, "reason": "活动第2名"},
    {"telegram_id": 345678, "amount": 200, "reason": "活动第3名"},
]
result = client.batch_sync(winners)
assert result.data is not None
print(f"3. succeeded: {result.data['success']}, failed: {result.data['failed']}")
ok = ok and result.data["success"] == 3 and result.data["failed"] == 0

# 4. Check the balance before opening the shop.
client.register_user(telegram_id, "alice")
info = client.get_balance(telegram_id)
if info:
    credits = info["credits"]
    print(f"4. user {info['nickname']} has {credits} credits")
    show_available_items(credits)
else:
    print("4. user is not registered")
ok = ok and info is not None and info["credits"] == 50

records = client.get_records(telegram_id, limit=5)
for r in records["records"]:
    print(f"  {r['change']:+d} - {r['reason']}")

client.close()
print("quick start: all scenarios behaved as the guide says" if ok else "quick start: UNEXPECTED behaviour")
sys.exit(0 if ok else 1)
