from typing import Any, Awaitable, Callable, Dict, Optional, Union

from aiogram import BaseMiddleware, Bot, Router
from aiogram.types import Message, SuccessfulPayment, TelegramObject

from . import AsyncCreditSyncClient, ReverseResult, SyncResult

DEFAULT_REFUND_REASON: str
CreditsPerStar = Union[int, Callable[[SuccessfulPayment], int]]
OnCredit = Callable[[Message, SyncResult], Awaitable[Any]]
OnRefund = Callable[[Message, ReverseResult], Awaitable[Any]]
AcceptPayload = Callable[[str], bool]

class CreditsMiddleware(BaseMiddleware):
    client: AsyncCreditSyncClient
    key: str
    def __init__(self, client: AsyncCreditSyncClient, key: str = "credits") -> None: ...
    async def __call__(
        self,
        handler: Callable[[TelegramObject, Dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: Dict[str, Any],
    ) -> Any: ...

def stars_router(
    client: Optional[AsyncCreditSyncClient] = None,
    *,
    credits_per_star: CreditsPerStar = 1,
    refund_reason: str = ...,
    accept_payload: Optional[AcceptPayload] = None,
    on_credit: Optional[OnCredit] = ...,
    on_refund: Optional[OnRefund] = ...,
    name: str = "credit_sync_stars",
) -> Router: ...
async def refund_stars(
    bot: Bot,
    client: AsyncCreditSyncClient,
    user_id: int,
    charge_id: str,
    reason: str = ...,
) -> ReverseResult: ...

__all__ = ["DEFAULT_REFUND_REASON", "CreditsMiddleware", "refund_stars", "stars_router"]
