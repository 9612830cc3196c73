from typing import Any, Awaitable, Callable, Coroutine, List, Optional, Union

from telegram import Bot, SuccessfulPayment, Update
from telegram.ext import Application, BaseHandler, CallbackContext

from . import AsyncCreditSyncClient, ReverseResult, SyncResult

KEY: str
DEFAULT_REFUND_REASON: str
Context = CallbackContext[Any, Any, Any, Any]
CreditsPerStar = Union[int, Callable[[SuccessfulPayment], int]]
OnCredit = Callable[[Update, Context, SyncResult], Awaitable[Any]]
OnRefund = Callable[[Update, Context, ReverseResult], Awaitable[Any]]
AcceptPayload = Callable[[str], bool]

def setup_credits(
    application: Application[Any, Any, Any, Any, Any, Any], client: AsyncCreditSyncClient
) -> None: ...
def credits_post_init(
    client: AsyncCreditSyncClient,
) -> Callable[[Application[Any, Any, Any, Any, Any, Any]], Coroutine[Any, Any, None]]: ...
def get_credits(context: Context) -> AsyncCreditSyncClient: ...
def stars_handlers(
    client: Optional[AsyncCreditSyncClient] = None,
    *,
    credits_per_star: CreditsPerStar = 1,
    refund_reason: str = ...,
    accept_payload: Optional[AcceptPayload] = None,
    on_credit: Optional[OnCredit] = ...,
    on_refund: Optional[OnRefund] = ...,
) -> List[BaseHandler[Update, Any, Any]]: ...
async def refund_stars(
    bot: Bot,
    client: AsyncCreditSyncClient,
    user_id: int,
    charge_id: str,
    reason: str = ...,
) -> ReverseResult: ...

__all__ = [
    "DEFAULT_REFUND_REASON",
    "KEY",
    "credits_post_init",
    "get_credits",
    "refund_stars",
    "setup_credits",
    "stars_handlers",
]
