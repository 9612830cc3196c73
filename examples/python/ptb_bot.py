"""A complete python-telegram-bot (21+) bot that sells credits for Telegram Stars
(docs/stars.md): /balance, /bonus, /buy, /refund <charge id>, and the ready-made Stars
handlers of `credit_sync_client.telegram_ext`.

    BOT_TOKEN=123:abc CREDIT_SYNC_BASE_URL=... CREDIT_SYNC_API_KEY=... \
    CREDIT_SYNC_SECRET_KEY=... CREDIT_SYNC_SOURCE=... python examples/python/ptb_bot.py

TELEGRAM_API_BASE points it at another Bot API server (a local one, or the tests'
stand-in); `--smoke` feeds it a few updates instead of polling and exits.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import sys
from typing import Any, Dict

from telegram import LabeledPrice, Update
from telegram.ext import Application, CommandHandler, ContextTypes

from credit_sync_client import AsyncCreditSyncClient, make_reference
from credit_sync_client.telegram_ext import credits_post_init, get_credits, refund_stars, stars_handlers

PACKS = {"pack-100": 50}  # payload -> price in Stars; 2 credits per Star


async def balance(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_user is not None and update.effective_message is not None
    info = await get_credits(context).get_balance(update.effective_user.id)
    await update.effective_message.reply_text(f"You have {info['credits'] if info else 0} credits.")


async def bonus(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_user is not None and update.effective_message is not None
    uid = update.effective_user.id
    today = datetime.date.today().isoformat()
    result = await get_credits(context).add_credits(uid, 10, "daily bonus", make_reference("bonus", uid, today))
    if result.duplicate:
        await update.effective_message.reply_text("Today's bonus is already yours.")
    elif result.success:
        await update.effective_message.reply_text(f"+10 credits, balance {result.balance}")
    else:
        await update.effective_message.reply_text(f"No bonus now: {result.message}")


async def buy(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_invoice(
        title="100 credits", description="A pack of 100 credits", payload="pack-100",
        currency="XTR", prices=[LabeledPrice("100 credits", PACKS["pack-100"])],
    )


async def refund(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_user is not None and update.effective_message is not None
    if not context.args:
        await update.effective_message.reply_text("Usage: /refund <telegram_payment_charge_id>")
        return
    result = await refund_stars(context.bot, get_credits(context), update.effective_user.id, context.args[0])
    if not result.success:
        await update.effective_message.reply_text(f"Cannot refund: {result.message}")


def build(client: AsyncCreditSyncClient) -> Application[Any, Any, Any, Any, Any, Any]:
    builder = Application.builder().token(os.environ["BOT_TOKEN"]).post_init(credits_post_init(client))
    api_base = os.environ.get("TELEGRAM_API_BASE")
    if api_base:
        builder = builder.base_url(f"{api_base}/bot")
    app = builder.build()
    app.add_handlers([CommandHandler("balance", balance), CommandHandler("bonus", bonus),
                      CommandHandler("buy", buy), CommandHandler("refund", refund)])
    app.add_handlers(stars_handlers(credits_per_star=2, accept_payload=lambda payload: payload in PACKS))
    return app


async def smoke(app: Application[Any, Any, Any, Any, Any, Any], client: AsyncCreditSyncClient) -> None:
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
    async with app:
        if app.post_init is not None:
            await app.post_init(app)  # run_polling calls it; process_update alone does not
        for raw in updates:
            await app.process_update(Update.de_json(raw, app.bot))
    info = await client.get_balance(uid)
    assert info is not None and info["credits"] == 110, info
    print("smoke: ok")


def main() -> None:
    client = AsyncCreditSyncClient.from_env()
    app = build(client)
    try:
        if "--smoke" in sys.argv:
            asyncio.run(smoke(app, client))
        else:
            app.run_polling(allowed_updates=Update.ALL_TYPES)
    finally:
        client.close()


if __name__ == "__main__":
    main()
