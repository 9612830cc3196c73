"""The guide's Python code, run unchanged except for the base URL (and, in the
hand-written HTTP snippet, the keys) against the real server."""

import textwrap

GUIDE_URL = "https://api.yourdomain.com"

# --- verbatim from the guide: "Way 1: Python SDK", steps 3 and 4 -------------
QUICK_START = '''
from credit_sync_client import CreditSyncClient

client = CreditSyncClient(
    base_url="https://api.yourdomain.com",  # API address
    api_key="media-bot-api-key-2024",       # your API key
    secret_key="your-secret-key-here",      # sync secret
    source="media_bot"                      # your project's identifier
)
'''

QUICK_START_USE = '''
# add credits
result = client.add_credits(
    telegram_id=123456789,
    amount=100,
    reason="观看视频奖励",            # "reward for watching a video"
    reference="video_12345"           # optional, used for de-duplication
)

if result.success:
    print(f"✅ OK! balance: {result.balance}")
else:
    print(f"❌ failed: {result.message}")

# query balance
balance = client.get_balance(123456789)
print(f"current credits: {balance['credits']}")
'''

# --- verbatim from the guide: "Way 2: direct HTTP requests", Python ---------
HTTP_SNIPPET = '''
import requests, time, hmac, hashlib

API_URL = "https://api.yourdomain.com/api/credits/sync"
API_KEY = "your-api-key"
SECRET = "your-secret-key"
SOURCE = "media_bot"

def generate_token(telegram_id, amount, timestamp):
    """generate the verification token"""
    message = f"{telegram_id}:{amount}:{SOURCE}:{timestamp}"
    return hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()

def sync_credits(telegram_id, amount, reason):
    """sync credits"""
    timestamp = int(time.time())
    token = generate_token(telegram_id, amount, timestamp)
    response = requests.post(
        API_URL,
        json={
            "telegram_id": telegram_id,
            "amount": amount,
            "source": SOURCE,
            "reason": reason,
            "timestamp": timestamp,
            "token": token
        },
        headers={"X-Api-Key": API_KEY}
    )
    return response.json()

result = sync_credits(123456789, 100, "测试奖励")   # "test reward"
print(result)
'''

# --- verbatim from the guide: "Common scenarios" 1-4 ------------------------
SCENARIO_1 = '''
result = client.add_credits(
    telegram_id=telegram_id,
    amount=50,
    reason="观看视频《修仙之路》",     # "watched the video 'Path of Cultivation'"
    reference=f"video_{video_id}"     # prevents rewarding twice
)
'''

SCENARIO_2 = '''
result = client.deduct_credits(
    telegram_id=telegram_id,
    amount=500,
    reason="购买VIP会员",              # "bought VIP membership"
    reference=f"order_{order_id}"
)
if result.success:
    grant_vip_privilege(telegram_id)
else:
    notify_user("积分不足，请先赚取积分")  # "not enough credits, earn some first"
'''

SCENARIO_3 = '''
winners = [
    {"telegram_id": 123456, "amount": 1000, "reason": "活动第1名"},  # "campaign 1st place"
    {"telegram_id": 789012, "amount": 500,  "reason": "活动第2名"},
    {"telegram_id": 345678, "amount": 200,  "reason": "活动第3名"}
]
result = client.batch_sync(winners)
print(f"succeeded: {result.data['success']}, failed: {result.data['failed']}")
'''

SCENARIO_4 = '''
balance = client.get_balance(telegram_id)
if balance:
    credits = balance['credits']
    print(f"user {balance['nickname']} has {credits} credits")
    show_available_items(credits)
else:
    print("user is not registered")
'''

# --- verbatim from the guide: "Test script" ---------------------------------
TEST_SCRIPT = '''
from credit_sync_client import CreditSyncClient

client = CreditSyncClient(base_url="https://api.yourdomain.com",
                          api_key="your-api-key", secret_key="your-secret-key",
                          source="test")

def test_sync():
    test_user = 123456789
    result = client.add_credits(test_user, 100, "测试")          # "test"
    print(result.success, result.message)
    balance = client.get_balance(test_user)
    print(balance['credits'] if balance else 'query failed')
    records = client.get_records(test_user, limit=5)
    if records:
        for r in records['records']:
            print(f"  {r['change']:+d} - {r['reason']}")
    result = client.deduct_credits(test_user, 50, "测试消费")   # "test spending"
    print(result.success)
'''


def run(code: str, base_url: str, ns: dict) -> dict:
    exec(compile(textwrap.dedent(code).replace(GUIDE_URL, base_url), "<guide>", "exec"), ns)
    return ns


def test_quick_start(base_url, capsys):
    ns = run(QUICK_START, base_url, {})
    run(QUICK_START_USE, base_url, ns)
    out = capsys.readouterr().out
    assert "✅ OK! balance:" in out
    assert "current credits:" in out
    assert ns["result"].success
    assert ns["balance"]["credits"] >= 100
    # Running it again is a safe replay of reference video_12345.
    before = ns["balance"]["credits"]
    run(QUICK_START_USE, base_url, ns)
    assert ns["result"].success and ns["result"].duplicate
    assert ns["balance"]["credits"] == before


def test_test_script(base_url, capsys):
    ns = run(TEST_SCRIPT, base_url, {})
    ns["test_sync"]()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("True ")
    assert int(lines[1]) >= 100
    assert any(line.strip().startswith("+100 - 测试") for line in lines[2:-1])
    assert lines[-1] == "True"


def test_four_scenarios(base_url, new_id, capsys):
    calls = {"vip": [], "notify": [], "items": []}
    ns = run(QUICK_START, base_url, {})
    telegram_id = new_id()
    ns.update(
        telegram_id=telegram_id,
        video_id="v42",
        order_id=f"o{telegram_id}",
        grant_vip_privilege=lambda tid: calls["vip"].append(tid),
        notify_user=lambda msg: calls["notify"].append(msg),
        show_available_items=lambda credits: calls["items"].append(credits),
    )

    run(SCENARIO_1, base_url, ns)
    assert ns["result"].success and ns["result"].balance == 50
    run(SCENARIO_1, base_url, ns)  # the same video again: no second reward
    assert ns["result"].success and ns["result"].duplicate and ns["result"].balance == 50

    run(SCENARIO_2, base_url, ns)  # 50 credits cannot buy VIP for 500
    assert not ns["result"].success
    assert ns["result"].code == "insufficient_credits"
    assert calls["notify"] == ["积分不足，请先赚取积分"] and calls["vip"] == []

    ns["client"].add_credits(telegram_id, 1000, "top up")
    ns["order_id"] = f"o{telegram_id}b"
    run(SCENARIO_2, base_url, ns)
    assert ns["result"].success and ns["result"].balance == 550
    assert calls["vip"] == [telegram_id]

    run(SCENARIO_3, base_url, ns)
    assert ns["result"].data["success"] == 3 and ns["result"].data["failed"] == 0
    assert "succeeded: 3, failed: 0" in capsys.readouterr().out

    ns["client"].register_user(telegram_id, "alice")
    run(SCENARIO_4, base_url, ns)
    assert f"user alice has 550 credits" in capsys.readouterr().out
    assert calls["items"] == [550]

    ns["telegram_id"] = new_id()  # never seen
    run(SCENARIO_4, base_url, ns)
    assert "user is not registered" in capsys.readouterr().out


def test_hand_written_http_snippet(base_url, capsys):
    code = (
        HTTP_SNIPPET.replace('API_KEY = "your-api-key"', 'API_KEY = "media-bot-api-key-2024"')
        .replace('SECRET = "your-secret-key"', 'SECRET = "your-secret-key-here"')
    )
    ns = run(code, base_url, {})
    assert ns["result"]["success"] is True, ns["result"]
    assert ns["result"]["code"] == "ok"
    assert "'success': True" in capsys.readouterr().out

    # The SDK's generate_token is the same v1 token the snippet computes by hand.
    from credit_sync_client import generate_token

    assert generate_token(123456789, 100, "media_bot", 1700000000, "your-secret-key-here") == ns[
        "generate_token"
    ](123456789, 100, 1700000000)
