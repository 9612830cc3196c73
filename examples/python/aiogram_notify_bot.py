"""An aiogram 3 bot that tells its users when another bot credits them: it follows the
credit-sync event feed (docs/events.md) and, on each `credits.added` made by another
source, sends the user a message. The feed's cursor is stored in a file after each
event, so a restart resumes where it stopped (a crash between the message and the
write repeats one message; none is lost).

    BOT_TOKEN=123:abc CREDIT_SYNC_BASE_URL=... CREDIT_SYNC_API_KEY=... \
    CREDIT_SYNC_SECRET_KEY=... CREDIT_SYNC_SOURCE=... CURSOR_FILE=notify.cursor \
    python examples/python/aiogram_notify_bot.py

With no stored cursor it starts at the newest event (no history is replayed).
TELEGRAM_API_BASE points it at another Bot API server (the tests' stand-in); `--smoke`
stops after the first message and prints "smoke: ok".
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import sys
from typing import Optional

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from credit_sync_client import AsyncCreditSyncClient, Event


async def newest_cursor(client: AsyncCreditSyncClient) -> str:
    """The cursor after the newest event: where a first run starts."""
    page = await client.get_events(limit=500)
    while page["events"]:
        page = await client.get_events(after=page["next_cursor"], limit=500)
    return page["next_cursor"]


def store(cursor_file: pathlib.Path, cursor: str) -> None:
    tmp = cursor_file.with_suffix(".tmp")
    tmp.write_text(cursor)
    tmp.replace(cursor_file)  # atomic: a crash leaves the old cursor or the new one


def message_for(event: Event) -> str:
    change, balance = event.data["change"], event.data["balance_after"]
    return f"+{change} credits from {event.source}. Your balance: {balance}."


async def notify(bot: Bot, client: AsyncCreditSyncClient, cursor_file: pathlib.Path,
                 stop_after: Optional[int] = None) -> None:
    stored = cursor_file.read_text().strip() if cursor_file.exists() else None
    sent = 0
    async for event in client.iter_events(after=stored or await newest_cursor(client)):
        if event.type == "credits.added" and event.source not in (client.source, None):
            await bot.send_message(event.telegram_id, message_for(event))
            sent += 1
        store(cursor_file, event.cursor)
        if stop_after is not None and sent >= stop_after:
            return


def make_bot() -> Bot:
    api_base = os.environ.get("TELEGRAM_API_BASE")
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base)) if api_base else None
    return Bot(os.environ["BOT_TOKEN"], session=session)


async def main() -> None:
    client = AsyncCreditSyncClient.from_env()
    bot = make_bot()
    cursor_file = pathlib.Path(os.environ.get("CURSOR_FILE", "notify.cursor"))
    try:
        if "--smoke" in sys.argv:
            await notify(bot, client, cursor_file, stop_after=1)
            print("smoke: ok")
        else:
            await notify(bot, client, cursor_file)
    finally:
        await bot.session.close()
        client.close()


if __name__ == "__main__":
    asyncio.run(main())
