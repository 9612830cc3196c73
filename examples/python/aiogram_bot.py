"""A complete aiogram 3 bot that sells credits for Telegram Stars (docs/stars.md):
/balance, /bonus (a daily reward), /buy (an invoice), /refund <charge id>, and the
ready-made Stars router of `credit_sync_client.aiogram`.

    BOT_TOKEN=123:abc CREDIT_SYNC_BASE_URL=... CREDIT_SYNC_API_KEY=... \
    CREDIT_SYNC_SECRET_KEY=... CREDIT_SYNC_SOURCE=... python examples/python/aiogram_bot.py

TELEGRAM_API_BASE points it at another Bot API server (a local one, or the tests'
stand-in); `--smoke` feeds it a few updates instead of polling and exits.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import sys
from typing import Any, Dict

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import Command, CommandObject
from aiogram.types import LabeledPrice, Message, Update

from credit_sync_client import AsyncCreditSyncClient, make_reference
from credit_sync_client.aiogram import CreditsMiddleware, refund_stars, stars_router

PACKS = {"pack-100": 50}  # payload -> price in Stars; 2 credits per Star
commands = Router(name="commands")


@commands.message(Command("balance"))
async def balance(message: Message, credits: AsyncCreditSyncClient) -> None:
    assert message.from_user is not None
    info = await credits.get_balance(message.from_user.id)
    await message.answer(f"You have {info['credits'] if info else 0} credits.")


@commands.message(Command("bonus"))
async def bonus(message: Message, credits: AsyncCreditSyncClient) -> None:
    assert message.from_user is not None
    uid = message.from_user.id
    today = datetime.date.today().isoformat()
    result = await credits.add_credits(uid, 10, "daily bonus", make_reference("bonus", uid, today))
    if result.duplicate:
        await message.answer("Today's bonus is already yours.")
    elif result.success:
        await message.answer(f"+10 credits, balance {result.balance}")
    else:
        await message.answer(f"No bonus now: {result.message}")


@commands.message(Command("buy"))
async def buy(message: Message) -> None:
    await message.answer_invoice(
        title="100 credits", description="A pack of 100 credits", payload="pack-100",
        currency="XTR", prices=[LabeledPrice(label="100 credits", amount=PACKS["pack-100"])],
    )


@commands.message(Command("refund"))
async def refund(message: Message, command: CommandObject, bot: Bot, credits: AsyncCreditSyncClient) -> None:
    assert message.from_user is not None
    if not command.args:
        await message.answer("Usage: /refund <telegram_payment_charge_id>")
        return
    result = await refund_stars(bot, credits, message.from_user.id, command.args.strip())
    if not result.success:
        await message.answer(f"Cannot refund: {result.message}")


def build(client: AsyncCreditSyncClient) -> Dispatcher:
    dp = Dispatcher()
    dp.update.outer_middleware(CreditsMiddleware(client))
    dp.include_router(stars_router(credits_per_star=2, accept_payload=lambda payload: payload in PACKS))
    dp.include_router(commands)
    return dp


def make_bot() -> Bot:
    api_base = os.environ.get("TELEGRAM_API_BASE")
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base)) if api_base else None
    return Bot(os.environ["BOT_TOKEN"], session=session)


async def smoke(bot: Bot, dp: Dispatcher, client: AsyncCreditSyncClient) -> None:
    uid = int(os.environ.get("EXAMPLE_SMOKE_USER", "424242"))
    person: Dict[str, Any] = {"id": uid, "is_bot": False, "first_name": "Smoke"}
    chat: Dict[str, Any] = {"id": uid, "type": "private"}
    paid = {"currency": "XTR", "total_amount": 50, "invoice_payload": "pack-100",
            "telegram_payment_charge_id": f"smoke-{uid}", "provider_payment_charge_id": ""}

    def msg(n: int, **fields: Any) -> Dict[str, Any]:
        return {"update_id": n, "message": {"message_id": n, "date": 0, "from": person, "chat": chat, **fields}}

    updates = [
        msg(1, text="/bonus", entities=[{"type": "bot_command", "offset": 0, "length": 6}]),
        {"update_id": 2, "pre_checkout_query": {"id": "smoke-q", "from": person, "currency": "XTR",
                                                "total_amount": 50, "invoice_payload": "pack-100"}},
        msg(3, successful_payment=paid),
        msg(4, successful_payment=paid),
    ]
    for raw in updates:
        await dp.feed_update(bot, Update.model_validate(raw, context={"bot": bot}))
    info = await client.get_balance(uid)
    assert info is not None and info["credits"] == 110, info
    print("smoke: ok")


async def main() -> None:
    client = AsyncCreditSyncClient.from_env()
    bot = make_bot()
    dp = build(client)
    try:
        if "--smoke" in sys.argv:
            await smoke(bot, dp, client)
        else:
            await dp.start_polling(bot)
    finally:
        await bot.session.close()
        client.close()


if __name__ == "__main__":
    asyncio.run(main())
