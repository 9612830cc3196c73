"""python-telegram-bot (v21+) integration: keeps the async client in
``context.bot_data["credits"]`` and sells credits for Telegram Stars with ready-made
handlers (the flow of docs/stars.md).

Install with ``pip install 'credit-sync-client[telegram]'``. The money rules are the core's;
these handlers only wire the updates to ``credit_stars_payment`` / ``refund_stars_payment``.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Coroutine, List, Optional, Union

try:
    from telegram import Bot, Message, SuccessfulPayment, Update
    from telegram.ext import (
        Application,
        BaseHandler,
        CallbackContext,
        MessageHandler,
        PreCheckoutQueryHandler,
        filters,
    )
except ImportError as _missing:  # pragma: no cover - exercised in a venv without the package
    raise ImportError(
        "credit_sync_client.telegram_ext needs python-telegram-bot 21+: "
        "pip install 'credit-sync-client[telegram]'"
    ) from _missing

from . import AsyncCreditSyncClient, ReverseResult, SyncResult, _native

KEY = "credits"
DEFAULT_REFUND_REASON = _native.DEFAULT_REFUND_REASON
Context = CallbackContext[Any, Any, Any, Any]
CreditsPerStar = Union[int, Callable[[SuccessfulPayment], int]]
OnCredit = Callable[[Update, Context, SyncResult], Awaitable[Any]]
OnRefund = Callable[[Update, Context, ReverseResult], Awaitable[Any]]
AcceptPayload = Callable[[str], bool]


def setup_credits(application: Application[Any, Any, Any, Any, Any, Any], client: AsyncCreditSyncClient) -> None:
    """Puts the client in ``application.bot_data["credits"]`` now (an attribute ``credits``
    when ``ContextTypes(bot_data=...)`` is a class without item access)."""
    bot_data = application.bot_data
    if hasattr(bot_data, "__setitem__"):
        bot_data[KEY] = client
    else:
        setattr(bot_data, KEY, client)


def credits_post_init(
    client: AsyncCreditSyncClient,
) -> Callable[[Application[Any, Any, Any, Any, Any, Any]], Coroutine[Any, Any, None]]:
    """A hook for ``Application.builder().post_init(...)`` that does `setup_credits`."""

    async def post_init(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        setup_credits(application, client)

    return post_init


def get_credits(context: Context) -> AsyncCreditSyncClient:
    """The client `setup_credits` stored, with a clear error when there is none."""
    bot_data = context.bot_data
    found = bot_data.get(KEY) if hasattr(bot_data, "get") else getattr(bot_data, KEY, None)
    if not isinstance(found, AsyncCreditSyncClient):
        raise RuntimeError(
            "no credit-sync client in context.bot_data['credits']: call setup_credits() "
            "or pass credits_post_init() to the Application builder"
        )
    return found


async def _reply_credited(update: Update, _context: Context, result: SyncResult) -> None:
    message = update.effective_message
    if message is None:
        return
    if result.success and not result.duplicate:
        await message.reply_text(f"+{result.change} credits, balance {result.balance}")
    elif not result.success:
        await message.reply_text(f"Payment received; crediting failed ({result.code}). Support will fix it.")


async def _reply_refunded(update: Update, _context: Context, result: ReverseResult) -> None:
    message = update.effective_message
    if message is not None and result.success and not result.duplicate:
        await message.reply_text(f"Refund: {-(result.change or 0)} credits taken back, balance {result.balance}")


def stars_handlers(
    client: Optional[AsyncCreditSyncClient] = None,
    *,
    credits_per_star: CreditsPerStar = _native.DEFAULT_CREDITS_PER_STAR,
    refund_reason: str = DEFAULT_REFUND_REASON,
    accept_payload: Optional[AcceptPayload] = None,
    on_credit: Optional[OnCredit] = _reply_credited,
    on_refund: Optional[OnRefund] = _reply_refunded,
) -> List[BaseHandler[Update, Any, Any]]:
    """Handlers for ``application.add_handlers(...)``: a ``PreCheckoutQueryHandler`` that
    answers ``ok`` for an ``XTR`` query whose payload ``accept_payload`` accepts (any when
    None), and ``MessageHandler``s for ``successful_payment`` (credits once per charge id;
    a redelivery is a ``duplicate``) and ``refunded_payment`` (takes the credits back once).

    The client is ``client`` or ``context.bot_data["credits"]``. ``on_credit`` /
    ``on_refund`` get each result (a short reply by default; None for none).
    """

    def credits_for(context: Context) -> AsyncCreditSyncClient:
        return client if client is not None else get_credits(context)

    async def pre_checkout(update: Update, _context: Context) -> None:
        query = update.pre_checkout_query
        assert query is not None
        refusal = _native.stars_pre_checkout_refusal(query.currency, query.total_amount)
        if refusal is not None:
            await query.answer(ok=False, error_message=refusal)
        elif accept_payload is not None and not accept_payload(query.invoice_payload):
            await query.answer(ok=False, error_message=_native.STARS_OFFER_REFUSED_MESSAGE)
        else:
            await query.answer(ok=True)

    async def successful_payment(update: Update, context: Context) -> None:
        message = update.effective_message
        assert message is not None and message.successful_payment is not None and message.from_user is not None
        payment = message.successful_payment
        per_star = credits_per_star(payment) if callable(credits_per_star) else credits_per_star
        result = await credits_for(context).credit_stars_payment(message.from_user.id, payment, per_star)
        if on_credit is not None:
            await on_credit(update, context, result)

    async def refunded_payment(update: Update, context: Context) -> None:
        message = update.effective_message
        assert message is not None and message.refunded_payment is not None
        result = await credits_for(context).refund_stars_payment(
            message.refunded_payment.telegram_payment_charge_id, refund_reason
        )
        if on_refund is not None:
            await on_refund(update, context, result)

    return [
        PreCheckoutQueryHandler(pre_checkout),
        MessageHandler(filters.SUCCESSFUL_PAYMENT, successful_payment),
        MessageHandler(filters.StatusUpdate.REFUNDED_PAYMENT, refunded_payment),
    ]


async def refund_stars(
    bot: Bot,
    client: AsyncCreditSyncClient,
    user_id: int,
    charge_id: str,
    reason: str = DEFAULT_REFUND_REASON,
) -> ReverseResult:
    """A refund the bot starts (docs/stars.md step 4): the credits come back first, and only
    when that succeeded does Telegram return the Stars (``refundStarPayment``)."""
    result = await client.refund_stars_payment(charge_id, reason)
    if result.success:
        await bot.refund_star_payment(user_id=user_id, telegram_payment_charge_id=charge_id)
    return result


__all__ = [
    "DEFAULT_REFUND_REASON",
    "KEY",
    "credits_post_init",
    "get_credits",
    "refund_stars",
    "setup_credits",
    "stars_handlers",
]
