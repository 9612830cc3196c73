"""Credit Sync client: cross-project credit (points) sync for Telegram bots.

The guide's API, as a native extension over the Rust core::

    from credit_sync_client import CreditSyncClient

    client = CreditSyncClient(base_url="https://api.yourdomain.com",
                              api_key="...", secret_key="...", source="media_bot")
    result = client.add_credits(telegram_id=123456789, amount=100,
                                reason="reward", reference="video_12345")
    if result.success:
        print(result.balance)

Signing, retries and HTTP all happen in the native core (``_native``); this
package re-exports it and wraps the async client's calls in coroutines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping, Optional, Type, TypeVar

from . import _native
from ._native import (
    AuthenticationError,
    CreditSyncClient,
    CreditSyncError,
    InsufficientCreditsError,
    RateLimitError,
    ReferenceConflictError,
    ServerError,
    SyncResult,
    TimeoutError,
    TimestampError,
    TransportError,
    UserNotFoundError,
    ValidationError,
    __version__,
    generate_token,
    make_reference,
)

if TYPE_CHECKING:
    from ._native import BalanceInfo, RecordsInfo, UserInfo

_A = TypeVar("_A", bound="AsyncCreditSyncClient")


class AsyncCreditSyncClient:
    """The client for asyncio bots (aiogram, python-telegram-bot): the same methods
    as `CreditSyncClient`, as coroutines.

    Each method only awaits the native call, which runs on the extension's tokio
    runtime; being a coroutine, it can be created before a loop runs
    (``asyncio.run(client.get_balance(1))``). Cancelling it cancels the call.
    """

    __slots__ = ("_inner",)

    def __init__(
        self,
        base_url: str,
        api_key: str,
        secret_key: str,
        source: str,
        *,
        timeout: float = 10.0,
        max_retries: int = 3,
    ) -> None:
        self._inner = _native.AsyncClient(
            base_url, api_key, secret_key, source, timeout=timeout, max_retries=max_retries
        )

    @classmethod
    def from_env(cls: Type[_A], *, timeout: float = 10.0, max_retries: int = 3) -> _A:
        """Builds a client from the ``CREDIT_SYNC_*`` environment variables."""
        client = cls.__new__(cls)
        client._inner = _native.AsyncClient.from_env(timeout=timeout, max_retries=max_retries)
        return client

    @property
    def base_url(self) -> str:
        """The API address."""
        return self._inner.base_url

    @property
    def source(self) -> str:
        """Your project's source name."""
        return self._inner.source

    async def add_credits(
        self, telegram_id: int, amount: int, reason: str, reference: Optional[str] = None
    ) -> SyncResult:
        """Adds ``amount`` (> 0) credits; see `CreditSyncClient.add_credits`."""
        return await self._inner.add_credits(telegram_id, amount, reason, reference)

    async def deduct_credits(
        self, telegram_id: int, amount: int, reason: str, reference: Optional[str] = None
    ) -> SyncResult:
        """Deducts ``amount`` (> 0) credits; see `CreditSyncClient.deduct_credits`."""
        return await self._inner.deduct_credits(telegram_id, amount, reason, reference)

    async def batch_sync(
        self, items: Iterable[Mapping[str, Any]], *, atomic: bool = False
    ) -> SyncResult:
        """Applies many changes; see `CreditSyncClient.batch_sync`."""
        return await self._inner.batch_sync(items, atomic=atomic)

    async def get_balance(self, telegram_id: int) -> Optional[BalanceInfo]:
        """``{'telegram_id', 'credits', 'nickname'}``, or ``None`` for an unregistered user."""
        return await self._inner.get_balance(telegram_id)

    async def get_records(
        self, telegram_id: int, limit: int = 20, cursor: Optional[str] = None
    ) -> RecordsInfo:
        """One page of records, newest first: ``{'records': [...], 'next_cursor'}``."""
        return await self._inner.get_records(telegram_id, limit, cursor)

    async def register_user(
        self, telegram_id: int, nickname: Optional[str] = None
    ) -> UserInfo:
        """Registers a user or updates the nickname (admin sources only)."""
        return await self._inner.register_user(telegram_id, nickname)

    def close(self) -> None:
        """Closes the client; later calls fail with code ``client_closed``."""
        self._inner.close()

    async def __aenter__(self: _A) -> _A:
        return self

    async def __aexit__(self, *_args: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return repr(self._inner).replace("AsyncClient", "AsyncCreditSyncClient", 1)


__all__ = [
    "AsyncCreditSyncClient",
    "AuthenticationError",
    "CreditSyncClient",
    "CreditSyncError",
    "InsufficientCreditsError",
    "RateLimitError",
    "ReferenceConflictError",
    "ServerError",
    "SyncResult",
    "TimeoutError",
    "TimestampError",
    "TransportError",
    "UserNotFoundError",
    "ValidationError",
    "__version__",
    "generate_token",
    "make_reference",
]
