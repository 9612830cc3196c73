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

import os
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterable, Mapping, Optional, Type, TypeVar, Union

from . import _native
from ._native import (
    AuthenticationError,
    CreditSyncClient,
    ConflictError,
    CreditSyncError,
    Event,
    HoldResolvedError,
    HoldResult,
    InsufficientCreditsError,
    NotFoundError,
    RateLimitError,
    ReferenceConflictError,
    ReverseResult,
    ServerError,
    CursorExpiredError,
    WebhookVerificationError,
    SyncResult,
    TimeoutError,
    TimestampError,
    TransferResult,
    TransportError,
    UserNotFoundError,
    ValidationError,
    __version__,
    generate_token,
    make_reference,
    verify_webhook,
)

if TYPE_CHECKING:
    from ._native import BalanceInfo, EventsInfo, HoldsInfo, RecordInfo, RecordsInfo, StarsPayment, UserInfo

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
        attempt_timeout: Optional[float] = None,
        retry_budget: Optional[int] = 500,
        proxy: Optional[str] = None,
        ca_file: Optional[Union[str, os.PathLike[str]]] = None,
    ) -> None:
        self._inner = _native.AsyncClient(
            base_url,
            api_key,
            secret_key,
            source,
            timeout=timeout,
            max_retries=max_retries,
            attempt_timeout=attempt_timeout,
            retry_budget=retry_budget,
            proxy=proxy,
            ca_file=ca_file,
        )

    @classmethod
    def from_env(
        cls: Type[_A],
        *,
        timeout: float = 10.0,
        max_retries: int = 3,
        attempt_timeout: Optional[float] = None,
        retry_budget: Optional[int] = 500,
        proxy: Optional[str] = None,
        ca_file: Optional[Union[str, os.PathLike[str]]] = None,
    ) -> _A:
        """Builds a client from the ``CREDIT_SYNC_*`` environment variables."""
        client = cls.__new__(cls)
        client._inner = _native.AsyncClient.from_env(
            timeout=timeout,
            max_retries=max_retries,
            attempt_timeout=attempt_timeout,
            retry_budget=retry_budget,
            proxy=proxy,
            ca_file=ca_file,
        )
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

    async def hold_credits(
        self,
        telegram_id: int,
        amount: int,
        reason: str,
        reference: Optional[str] = None,
        ttl_seconds: int = 600,
    ) -> HoldResult:
        """Reserves ``amount`` credits; see `CreditSyncClient.hold_credits`."""
        return await self._inner.hold_credits(telegram_id, amount, reason, reference, ttl_seconds)

    async def capture_hold(
        self, hold_id: str, amount: Optional[int] = None, reference: Optional[str] = None
    ) -> HoldResult:
        """Charges a hold; see `CreditSyncClient.capture_hold`."""
        return await self._inner.capture_hold(hold_id, amount, reference)

    async def void_hold(self, hold_id: str, reference: Optional[str] = None) -> HoldResult:
        """Releases a hold; see `CreditSyncClient.void_hold`."""
        return await self._inner.void_hold(hold_id, reference)

    async def get_holds(self, telegram_id: int) -> Optional[HoldsInfo]:
        """The user's open holds and balance view, or ``None`` for an unregistered user."""
        return await self._inner.get_holds(telegram_id)

    async def reverse_record(
        self,
        record_id: Optional[int] = None,
        *,
        reference: Optional[str] = None,
        amount: Optional[int] = None,
        reason: str = _native.DEFAULT_REVERSAL_REASON,
        reversal_reference: Optional[str] = None,
    ) -> ReverseResult:
        """Reverses a record by id or by its reference; see `CreditSyncClient.reverse_record`."""
        return await self._inner.reverse_record(
            record_id,
            reference=reference,
            amount=amount,
            reason=reason,
            reversal_reference=reversal_reference,
        )

    async def transfer_credits(
        self, from_id: int, to_id: int, amount: int, reason: str, reference: Optional[str] = None
    ) -> TransferResult:
        """Moves credits between two users; see `CreditSyncClient.transfer_credits`."""
        return await self._inner.transfer_credits(from_id, to_id, amount, reason, reference)

    async def credit_stars_payment(
        self,
        telegram_id: int,
        payment: StarsPayment,
        credits_per_star: int = _native.DEFAULT_CREDITS_PER_STAR,
    ) -> SyncResult:
        """Credits a Telegram Stars payment once; see `CreditSyncClient.credit_stars_payment`."""
        return await self._inner.credit_stars_payment(telegram_id, payment, credits_per_star)

    async def refund_stars_payment(
        self, charge_id: str, reason: str = _native.DEFAULT_REFUND_REASON
    ) -> ReverseResult:
        """Reverses a Stars payment's credit once; see `CreditSyncClient.refund_stars_payment`."""
        return await self._inner.refund_stars_payment(charge_id, reason)

    async def get_balance(self, telegram_id: int) -> Optional[BalanceInfo]:
        """``{'telegram_id', 'credits', 'held', 'available', 'nickname'}``, or ``None`` for an
        unregistered user."""
        return await self._inner.get_balance(telegram_id)

    async def get_records(
        self, telegram_id: int, limit: int = 20, cursor: Optional[str] = None
    ) -> RecordsInfo:
        """One page of records, newest first: ``{'records': [...], 'next_cursor'}``."""
        return await self._inner.get_records(telegram_id, limit, cursor)

    async def iter_records(
        self, telegram_id: int, page_size: int = _native.DEFAULT_RECORDS_PAGE_SIZE
    ) -> AsyncIterator[RecordInfo]:
        """Every record of the user, newest first, fetching pages of ``page_size`` as
        needed; see `CreditSyncClient.iter_records`. An error is raised once and the
        iterator ends."""
        walk = self._inner.records(telegram_id, page_size)
        while (record := await walk.next()) is not None:
            yield record

    async def get_events(
        self, after: Optional[str] = None, limit: int = 100, wait: int = 0
    ) -> EventsInfo:
        """One page of the event feed; see `CreditSyncClient.get_events`."""
        return await self._inner.get_events(after, limit, wait)

    async def iter_events(self, after: Optional[str] = None) -> AsyncIterator[Event]:
        """Every event after ``after`` (a stored cursor), without end; see
        `CreditSyncClient.iter_events`. An error is raised once and the iterator ends."""
        feed = self._inner.events(after)
        while (event := await feed.next()) is not None:
            yield event

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
    "ConflictError",
    "CreditSyncClient",
    "CreditSyncError",
    "Event",
    "HoldResolvedError",
    "HoldResult",
    "InsufficientCreditsError",
    "NotFoundError",
    "RateLimitError",
    "ReferenceConflictError",
    "ReverseResult",
    "ServerError",
    "CursorExpiredError",
    "WebhookVerificationError",
    "SyncResult",
    "TimeoutError",
    "TimestampError",
    "TransferResult",
    "TransportError",
    "UserNotFoundError",
    "ValidationError",
    "__version__",
    "generate_token",
    "make_reference",
    "verify_webhook",
]
