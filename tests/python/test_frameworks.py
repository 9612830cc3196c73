"""The bot-framework integrations against the real frameworks: real `Update` objects fed to a
real aiogram dispatcher and python-telegram-bot application whose Bot API base URL is a
loopback stand-in (tests/python/telegram_standin.py), and handlers that reach the real
credit-sync server of conftest.py."""

from __future__ import annotations

import asyncio
import importlib.util
import sys

import pytest

import telegram_standin as tg
from conftest import MEDIA, ROOT


@pytest.fixture(scope="module")
def standin():
    s = tg.TelegramStandIn()
    yield s
    s.stop()


def test_the_package_does_not_import_the_frameworks(run_py):
    r = run_py(
        "import sys, credit_sync_client\n"
        "print(sorted(m for m in ('aiogram', 'telegram') if m in sys.modules))"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_a_missing_framework_is_a_clear_import_error(run_py):
    code = (
        "import sys\n"
        "sys.modules['aiogram'] = None; sys.modules['telegram'] = None\n"
        "for name in ('aiogram', 'telegram_ext'):\n"
        "    try:\n"
        "        __import__('credit_sync_client.' + name)\n"
        "    except ImportError as e:\n"
        "        print(e)\n"
    )
    r = run_py(code)
    assert r.returncode == 0, r.stderr
    assert "pip install 'credit-sync-client[aiogram]'" in r.stdout
    assert "pip install 'credit-sync-client[telegram]'" in r.stdout


def test_aiogram_middleware_and_stars_router(base_url, standin, new_id):
    from aiogram import Bot, Dispatcher, Router
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.filters import Command
    from aiogram.types import Message, Update

    from credit_sync_client import AsyncCreditSyncClient
    from credit_sync_client.aiogram import CreditsMiddleware, refund_stars, stars_router

    uid, charge, charge2 = new_id(), f"aiogram-charge-{new_id()}", f"aiogram-charge-{new_id()}"

    async def scenario() -> None:
        client = AsyncCreditSyncClient(base_url=base_url, **MEDIA)
        bot = Bot(tg.TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(standin.url)))
        dp = Dispatcher()
        dp.update.outer_middleware(CreditsMiddleware(client))
        seen = []
        mine = Router()

        @mine.message(Command("bonus"))
        async def bonus(message: Message, credits: AsyncCreditSyncClient):
            seen.append(credits)
            assert message.from_user is not None
            r = await credits.add_credits(message.from_user.id, 5, "bonus", f"bonus-{message.message_id}")
            await message.answer(f"balance {r.balance}")
            return r

        dp.include_router(stars_router(credits_per_star=2))
        dp.include_router(mine)

        def feed(n: int, **fields):
            return dp.feed_update(bot, Update.model_validate(tg.update(n, **fields), context={"bot": bot}))

        try:
            r = await feed(1, message=tg.text_message(uid, 1, "/bonus"))
            assert seen == [client] and r.success and r.balance == 5
            assert await feed(2, pre_checkout_query=tg.pre_checkout_query(uid, "q-aiogram", 50, "pack-100")) is True
            first = await feed(3, message=tg.successful_payment(uid, 3, 50, charge, "pack-100"))
            assert first.success and not first.duplicate and first.balance == 105
            again = await feed(4, message=tg.successful_payment(uid, 4, 50, charge, "pack-100"))
            assert again.success and again.duplicate and again.balance == 105
            refunded = await feed(5, message=tg.refunded_payment(uid, 5, 50, charge, "pack-100"))
            assert refunded.success and not refunded.duplicate and refunded.balance == 5
            refunded_again = await feed(6, message=tg.refunded_payment(uid, 6, 50, charge, "pack-100"))
            assert refunded_again.success and refunded_again.duplicate
            # A refund the bot starts: ledger first, then refundStarPayment; Telegram's later
            # refunded_payment for it is a duplicate.
            await feed(7, message=tg.successful_payment(uid, 7, 10, charge2, "pack-20"))
            started = await refund_stars(bot, client, uid, charge2)
            assert started.success and started.balance == 5
            late = await feed(8, message=tg.refunded_payment(uid, 8, 10, charge2, "pack-20"))
            assert late.success and late.duplicate
            assert (await client.get_balance(uid))["credits"] == 5
        finally:
            await bot.session.close()
            client.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert {"pre_checkout_query_id": "q-aiogram", "ok": True} in standin.called("answerPreCheckoutQuery")
    assert {"user_id": uid, "telegram_payment_charge_id": charge2} in standin.called("refundStarPayment")
    replies = [p["text"] for p in standin.called("sendMessage") if p["chat_id"] == uid]
    assert replies == ["balance 5", "+100 credits, balance 105", "Refund: 100 credits taken back, balance 5",
                       "+20 credits, balance 25"]


def test_aiogram_pre_checkout_refuses_a_payload_it_does_not_sell_and_other_currencies(standin, new_id, base_url):
    from aiogram import Bot, Dispatcher
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.types import Update

    from credit_sync_client import AsyncCreditSyncClient, _native
    from credit_sync_client.aiogram import stars_router

    async def scenario() -> None:
        client = AsyncCreditSyncClient(base_url=base_url, **MEDIA)
        bot = Bot(tg.TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(standin.url)))
        dp = Dispatcher()
        dp.include_router(stars_router(client, accept_payload=lambda p: p == "pack-100"))
        try:
            for update_id, query in enumerate(
                [
                    tg.pre_checkout_query(new_id(), "q-old", 50, "pack-old"),
                    tg.pre_checkout_query(new_id(), "q-usd", 50, "pack-100", currency="USD"),
                    tg.pre_checkout_query(new_id(), "q-zero", 0, "pack-100"),
                ]
            ):
                upd = tg.update(update_id, pre_checkout_query=query)
                assert await dp.feed_update(bot, Update.model_validate(upd, context={"bot": bot})) is False
        finally:
            await bot.session.close()
            client.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))
    answers = {p["pre_checkout_query_id"]: p for p in standin.called("answerPreCheckoutQuery")}
    # The texts are the core's (credit_sync::stars), whichever framework answers.
    not_stars = _native.stars_pre_checkout_refusal("USD", 50)
    assert not_stars and _native.stars_pre_checkout_refusal("XTR", 50) is None
    assert answers["q-old"]["ok"] is False
    assert answers["q-old"]["error_message"] == _native.STARS_OFFER_REFUSED_MESSAGE
    for refused in ("q-usd", "q-zero"):
        assert answers[refused]["ok"] is False and answers[refused]["error_message"] == not_stars


def test_python_telegram_bot_bot_data_and_stars_handlers(base_url, standin, new_id):
    from telegram import Update
    from telegram.ext import Application, CommandHandler, ContextTypes

    from credit_sync_client import AsyncCreditSyncClient
    from credit_sync_client.telegram_ext import credits_post_init, get_credits, refund_stars, stars_handlers

    uid, charge, charge2 = new_id(), f"ptb-charge-{new_id()}", f"ptb-charge-{new_id()}"
    results = []

    async def scenario() -> None:
        client = AsyncCreditSyncClient(base_url=base_url, **MEDIA)
        app = (
            Application.builder()
            .token(tg.TOKEN)
            .base_url(f"{standin.url}/bot")
            .updater(None)
            .post_init(credits_post_init(client))
            .build()
        )
        errors = []

        async def on_error(_update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
            errors.append(context.error)

        async def bonus(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            credits = get_credits(context)
            assert credits is client and update.effective_user is not None
            r = await credits.add_credits(update.effective_user.id, 5, "bonus", f"ptb-bonus-{uid}")
            results.append(r)

        async def on_credit(update, context, result) -> None:
            results.append(result)

        app.add_handler(CommandHandler("bonus", bonus))
        app.add_handlers(stars_handlers(credits_per_star=2, on_credit=on_credit, on_refund=on_credit))
        app.add_error_handler(on_error)

        async def feed(n: int, **fields) -> None:
            await app.process_update(Update.de_json(tg.update(n, **fields), app.bot))

        async with app:
            assert app.post_init is not None
            await app.post_init(app)  # run_polling / run_webhook call it after initialize()
            assert app.bot_data["credits"] is client
            await feed(1, message=tg.text_message(uid, 1, "/bonus"))
            await feed(2, pre_checkout_query=tg.pre_checkout_query(uid, "q-ptb", 50, "pack-100"))
            await feed(3, message=tg.successful_payment(uid, 3, 50, charge, "pack-100"))
            await feed(4, message=tg.successful_payment(uid, 4, 50, charge, "pack-100"))
            await feed(5, message=tg.refunded_payment(uid, 5, 50, charge, "pack-100"))
            await feed(6, message=tg.refunded_payment(uid, 6, 50, charge, "pack-100"))
            await feed(7, message=tg.successful_payment(uid, 7, 10, charge2, "pack-20"))
            results.append(await refund_stars(app.bot, client, uid, charge2))
            await feed(8, message=tg.refunded_payment(uid, 8, 10, charge2, "pack-20"))
            assert (await client.get_balance(uid))["credits"] == 5
        client.close()
        assert errors == []

    asyncio.run(asyncio.wait_for(scenario(), 30))
    summary = [(r.success, r.duplicate, r.balance) for r in results]
    assert summary == [
        (True, False, 5),     # /bonus
        (True, False, 105),   # successful_payment: +50 stars * 2
        (True, True, 105),    # its redelivery
        (True, False, 5),     # refunded_payment
        (True, True, 5),      # its redelivery
        (True, False, 25),    # a second payment
        (True, False, 5),     # the refund the bot starts
        (True, True, 5),      # Telegram's refunded_payment for it
    ]
    assert {"pre_checkout_query_id": "q-ptb", "ok": True} in standin.called("answerPreCheckoutQuery")
    assert {"user_id": uid, "telegram_payment_charge_id": charge2} in standin.called("refundStarPayment")


@pytest.mark.parametrize("example", ["aiogram_bot", "ptb_bot"])
def test_the_example_bots_run_against_the_standin(example, base_url, standin, new_id, monkeypatch, capsys):
    # In-process: importing aiogram costs seconds on this machine, once is enough.
    for name, value in {
        "BOT_TOKEN": tg.TOKEN,
        "TELEGRAM_API_BASE": standin.url,
        "CREDIT_SYNC_BASE_URL": base_url,
        "CREDIT_SYNC_API_KEY": MEDIA["api_key"],
        "CREDIT_SYNC_SECRET_KEY": MEDIA["secret_key"],
        "CREDIT_SYNC_SOURCE": MEDIA["source"],
        "EXAMPLE_SMOKE_USER": str(new_id()),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", [example, "--smoke"])
    spec = importlib.util.spec_from_file_location(f"example_{example}", ROOT / "examples/python" / f"{example}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    outcome = module.main()
    if asyncio.iscoroutine(outcome):
        asyncio.run(asyncio.wait_for(outcome, 30))
    assert "smoke: ok" in capsys.readouterr().out


def test_python_telegram_bot_with_a_bot_data_class(base_url):
    from telegram.ext import Application, CallbackContext, ContextTypes

    from credit_sync_client import AsyncCreditSyncClient
    from credit_sync_client.telegram_ext import get_credits, setup_credits

    class BotData:
        pass

    client = AsyncCreditSyncClient(base_url=base_url, **MEDIA)
    app = Application.builder().token(tg.TOKEN).updater(None).context_types(ContextTypes(bot_data=BotData)).build()
    setup_credits(app, client)
    assert get_credits(CallbackContext(app)) is client
    with pytest.raises(RuntimeError, match="setup_credits"):
        get_credits(CallbackContext(Application.builder().token(tg.TOKEN).updater(None).build()))
    client.close()
