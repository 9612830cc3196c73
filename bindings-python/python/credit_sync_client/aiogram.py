"""aiogram 3 integration: puts the async client into every handler's data as ``credits``
and sells credits for Telegram Stars with a ready-made router (the flow of docs/stars.md).

Install with ``pip install 'credit-sync-client[aiogram]'``. The money rules (one credit per
charge id, refunds as reversals) are the core's; this module only wires aiogram's updates
to ``credit_stars_payment`` / ``refund_stars_payment``.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, Optional, Union

try:
    from aiogram import BaseMiddleware, Bot, F, Router
    from aiogram.types import Message, PreCheckoutQuery, SuccessfulPayment, TelegramObject
except ImportError as _missing:  # pragma: no cover - exercised in a venv without aiogram
    raise ImportError(
        "credit_sync_client.aiogram needs aiogram 3: pip install 'credit-sync-client[aiogram]'"
    ) from _missing

from . import AsyncCreditSyncClient, ReverseResult, SyncResult, _native

DEFAULT_REFUND_REASON = _native.DEFAULT_REFUND_REASON
CreditsPerStar = Union[int, Callable[[SuccessfulPayment], int]]
OnCredit = Callable[[Message, SyncResult], Awaitable[Any]]
OnRefund = Callable[[Message, ReverseResult], Awaitable[Any]]
AcceptPayload = Callable[[str], bool]


class CreditsMiddleware(BaseMiddleware):
    """Adds the client to the handler data under ``key`` (default ``credits``), so a handler
    declares ``credits: AsyncCreditSyncClient`` as an argument.

    Register it on the dispatcher's update observer so every router sees it:
    ``dp.update.outer_middleware(CreditsMiddleware(client))``.
    """

    def __init__(self, client: AsyncCreditSyncClient, key: str = "credits") -> None:
        self.client = client
        self.key = key

    async def __call__(
        self,
        handler: Callable[[TelegramObject, Dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: Dict[str, Any],
    ) -> Any:
        data[self.key] = self.client
        return await handler(event, data)


def _client_from(data: Dict[str, Any], client: Optional[AsyncCreditSyncClient]) -> AsyncCreditSyncClient:
    found = client if client is not None else data.get("credits")
    if not isinstance(found, AsyncCreditSyncClient):
        raise RuntimeError(
            "no credit-sync client: pass client= to stars_router() or register CreditsMiddleware"
        )
    return found


async def _reply_credited(message: Message, result: SyncResult) -> None:
    if result.success and not result.duplicate:
        await message.answer(f"+{result.change} credits, balance {result.balance}")
    elif not result.success:
        await message.answer(f"Payment received; crediting failed ({result.code}). Support will fix it.")


async def _reply_refunded(message: Message, result: ReverseResult) -> None:
    if result.success and not result.duplicate:
        await message.answer(f"Refund: {-(result.change or 0)} credits taken back, balance {result.balance}")


def stars_router(
    client: Optional[AsyncCreditSyncClient] = None,
    *,
    credits_per_star: CreditsPerStar = _native.DEFAULT_CREDITS_PER_STAR,
    refund_reason: str = DEFAULT_REFUND_REASON,
    accept_payload: Optional[AcceptPayload] = None,
    on_credit: Optional[OnCredit] = _reply_credited,
    on_refund: Optional[OnRefund] = _reply_refunded,
    name: str = "credit_sync_stars",
) -> Router:
    """A router for the Stars updates: ``pre_checkout_query`` is answered ``ok`` for an
    ``XTR`` query whose payload ``accept_payload`` accepts (any payload when it is None);
    ``successful_payment`` credits ``total_amount * credits_per_star`` once per charge id
    (a redelivery is a ``duplicate``); ``refunded_payment`` takes the credits back once.

    The client is ``client`` or the one ``CreditsMiddleware`` put in the data. The payment
    handlers return the SDK's result (``dp.feed_update`` hands it back) after awaiting
    ``on_credit`` / ``on_refund`` (a short reply by default; None for none).
    """
    router = Router(name=name)

    @router.pre_checkout_query()
    async def pre_checkout(query: PreCheckoutQuery) -> bool:
        refusal = _native.stars_pre_checkout_refusal(query.currency, query.total_amount)
        if refusal is not None:
            await query.answer(ok=False, error_message=refusal)
            return False
        if accept_payload is not None and not accept_payload(query.invoice_payload):
            await query.answer(ok=False, error_message=_native.STARS_OFFER_REFUSED_MESSAGE)
            return False
        await query.answer(ok=True)
        return True

    @router.message(F.successful_payment)
    async def successful_payment(message: Message, **data: Any) -> SyncResult:
        payment = message.successful_payment
        assert payment is not None and message.from_user is not None
        per_star = credits_per_star(payment) if callable(credits_per_star) else credits_per_star
        result = await _client_from(data, client).credit_stars_payment(
            message.from_user.id, payment, per_star
        )
        if on_credit is not None:
            await on_credit(message, result)
        return result

    @router.message(F.refunded_payment)
    async def refunded_payment(message: Message, **data: Any) -> ReverseResult:
        refunded = message.refunded_payment
        assert refunded is not None
        result = await _client_from(data, client).refund_stars_payment(
            refunded.telegram_payment_charge_id, refund_reason
        )
        if on_refund is not None:
            await on_refund(message, result)
        return result

    return router


async def refund_stars(
    bot: Bot,
    client: AsyncCreditSyncClient,
    user_id: int,
    charge_id: str,
    reason: str = DEFAULT_REFUND_REASON,
) -> ReverseResult:
    """A refund the bot starts (docs/stars.md step 4): the credits come back first, and only
    when that succeeded does Telegram return the Stars (``refundStarPayment``). A user who
    spent the credits gets ``insufficient_credits`` and keeps the Stars unrefunded."""
    result = await client.refund_stars_payment(charge_id, reason)
    if result.success:
        await bot.refund_star_payment(user_id=user_id, telegram_payment_charge_id=charge_id)
    return result


__all__ = ["DEFAULT_REFUND_REASON", "CreditsMiddleware", "refund_stars", "stars_router"]
