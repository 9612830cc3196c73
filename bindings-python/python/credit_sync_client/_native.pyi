"""Type stubs for the native module ``credit_sync_client._native``."""

import os
from typing import final, Any, Final, Awaitable, Dict, Iterable, Iterator, List, Literal, Mapping, Optional, Protocol, Sequence, TypedDict, Union

__version__: str

# The defaults the methods state, from the core (one home for each).
DEFAULT_RECORDS_PAGE_SIZE: Final[int]
DEFAULT_CREDITS_PER_STAR: Final[int]
DEFAULT_REFUND_REASON: Final[str]
DEFAULT_REVERSAL_REASON: Final[str]
# The Stars handlers' pre-checkout rule and its messages (credit_sync::stars).
STARS_OFFER_REFUSED_MESSAGE: Final[str]

def stars_pre_checkout_refusal(currency: str, total_amount: int) -> Optional[str]: ...

class BalanceInfo(TypedDict):
    telegram_id: int
    credits: int
    # The open holds' sum, and ``credits - held``: what deducts, holds and transfers may take.
    held: int
    available: int
    nickname: Optional[str]

HoldState = Literal["open", "captured", "voided", "expired"]

class HoldInfo(TypedDict):
    hold_id: str
    telegram_id: int
    source: str
    amount: int
    captured: int
    state: HoldState
    reason: str
    external_reference: Optional[str]
    created_at: str
    expires_at: str
    resolved_at: Optional[str]
    record_id: Optional[int]

class HoldsInfo(TypedDict):
    telegram_id: int
    credits: int
    held: int
    available: int
    holds: List[HoldInfo]

class TransferLegInfo(TypedDict):
    telegram_id: int
    record_id: int
    change: int
    balance: int

class StarsPaymentLike(Protocol):
    """aiogram's / python-telegram-bot's ``SuccessfulPayment``, or any object with these."""

    @property
    def currency(self) -> str: ...
    @property
    def total_amount(self) -> int: ...
    @property
    def telegram_payment_charge_id(self) -> str: ...

# A Stars payment: a ``SuccessfulPayment``-like object, or a dict with the same three keys.
StarsPayment = Union[StarsPaymentLike, Mapping[str, Any]]

class RecordInfo(TypedDict):
    id: int
    change: int
    balance_after: int
    reason: str
    source: str
    external_reference: Optional[str]
    created_at: str
    hold_id: Optional[str]
    reverses: Optional[int]
    transfer_id: Optional[str]

class RecordsInfo(TypedDict):
    records: List[RecordInfo]
    next_cursor: Optional[str]

@final
class Event:
    """One committed ledger change, from the feed or a verified webhook."""

    @property
    def id(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def created_at(self) -> str: ...
    @property
    def source(self) -> Optional[str]: ...
    @property
    def telegram_id(self) -> int: ...
    @property
    def data(self) -> Dict[str, Any]: ...
    @property
    def cursor(self) -> str: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

class EventsInfo(TypedDict):
    events: List[Event]
    next_cursor: str

@final
class EventIterator:
    def __iter__(self) -> EventIterator: ...
    def __next__(self) -> Event: ...

@final
class AsyncEventFeed:
    def next(self) -> Awaitable[Optional[Event]]: ...

@final
class RecordIterator:
    def __iter__(self) -> RecordIterator: ...
    def __next__(self) -> RecordInfo: ...

@final
class AsyncRecordWalk:
    def next(self) -> Awaitable[Optional[RecordInfo]]: ...

class UserInfo(TypedDict):
    telegram_id: int
    credits: int
    nickname: Optional[str]
    created: bool

@final
class SyncResult:
    """The outcome of ``add_credits``, ``deduct_credits`` or ``batch_sync``."""

    @property
    def success(self) -> bool: ...
    @property
    def code(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def balance(self) -> Optional[int]: ...
    @property
    def duplicate(self) -> bool: ...
    @property
    def record_id(self) -> Optional[int]: ...
    @property
    def telegram_id(self) -> Optional[int]: ...
    @property
    def change(self) -> Optional[int]: ...
    @property
    def reference(self) -> Optional[str]:
        """The reference the change was sent with (yours or the SDK's ``auto-...``).
        After an unknown outcome, retry with ``reference=result.reference``."""
    @property
    def attempts(self) -> int: ...
    @property
    def retryable(self) -> bool: ...
    @property
    def request_id(self) -> Optional[str]: ...
    @property
    def data(self) -> Optional[Dict[str, Any]]: ...
    def raise_for_error(self) -> SyncResult: ...

@final
class HoldResult:
    """The outcome of ``hold_credits``, ``capture_hold`` or ``void_hold``."""

    @property
    def success(self) -> bool: ...
    @property
    def code(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def duplicate(self) -> bool: ...
    @property
    def reference(self) -> Optional[str]: ...
    @property
    def attempts(self) -> int: ...
    @property
    def retryable(self) -> bool: ...
    @property
    def request_id(self) -> Optional[str]: ...
    @property
    def hold_id(self) -> Optional[str]: ...
    @property
    def hold(self) -> Optional[HoldInfo]:
        """The hold as the call left it, or on ``hold_resolved`` its final state."""
    @property
    def state(self) -> Optional[HoldState]: ...
    @property
    def credits(self) -> Optional[int]: ...
    @property
    def held(self) -> Optional[int]: ...
    @property
    def available(self) -> Optional[int]: ...
    def raise_for_error(self) -> HoldResult: ...

@final
class ReverseResult:
    """The outcome of ``reverse_record`` or ``refund_stars_payment``."""

    @property
    def success(self) -> bool: ...
    @property
    def code(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def duplicate(self) -> bool: ...
    @property
    def reference(self) -> Optional[str]: ...
    @property
    def attempts(self) -> int: ...
    @property
    def retryable(self) -> bool: ...
    @property
    def request_id(self) -> Optional[str]: ...
    @property
    def record_id(self) -> Optional[int]: ...
    @property
    def reverses(self) -> Optional[int]: ...
    @property
    def telegram_id(self) -> Optional[int]: ...
    @property
    def change(self) -> Optional[int]: ...
    @property
    def balance(self) -> Optional[int]: ...
    @property
    def reversed(self) -> Optional[int]: ...
    @property
    def remaining(self) -> Optional[int]: ...
    def raise_for_error(self) -> ReverseResult: ...

@final
class TransferResult:
    """The outcome of ``transfer_credits``."""

    @property
    def success(self) -> bool: ...
    @property
    def code(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def duplicate(self) -> bool: ...
    @property
    def reference(self) -> Optional[str]: ...
    @property
    def attempts(self) -> int: ...
    @property
    def retryable(self) -> bool: ...
    @property
    def request_id(self) -> Optional[str]: ...
    @property
    def transfer_id(self) -> Optional[str]: ...
    @property
    def amount(self) -> Optional[int]: ...
    @property
    def sender(self) -> Optional[TransferLegInfo]: ...
    @property
    def receiver(self) -> Optional[TransferLegInfo]: ...
    def raise_for_error(self) -> TransferResult: ...

# A batch item: {"telegram_id": int, "amount": int, "reason": str, "reference": str | None}.
BatchItem = Mapping[str, Any]

@final
class CreditSyncClient:
    """Blocking client; safe to share between threads."""

    def __new__(
        cls,
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
    ) -> CreditSyncClient: ...
    @staticmethod
    def from_env(
        *,
        timeout: float = 10.0,
        max_retries: int = 3,
        attempt_timeout: Optional[float] = None,
        retry_budget: Optional[int] = 500,
        proxy: Optional[str] = None,
        ca_file: Optional[Union[str, os.PathLike[str]]] = None,
    ) -> CreditSyncClient: ...
    @property
    def base_url(self) -> str: ...
    @property
    def source(self) -> str: ...
    def add_credits(
        self, telegram_id: int, amount: int, reason: str, reference: Optional[str] = None
    ) -> SyncResult: ...
    def deduct_credits(
        self, telegram_id: int, amount: int, reason: str, reference: Optional[str] = None
    ) -> SyncResult: ...
    def batch_sync(self, items: Iterable[BatchItem], *, atomic: bool = False) -> SyncResult: ...
    def hold_credits(
        self,
        telegram_id: int,
        amount: int,
        reason: str,
        reference: Optional[str] = None,
        ttl_seconds: int = 600,
    ) -> HoldResult: ...
    def capture_hold(
        self, hold_id: str, amount: Optional[int] = None, reference: Optional[str] = None
    ) -> HoldResult: ...
    def void_hold(self, hold_id: str, reference: Optional[str] = None) -> HoldResult: ...
    def get_holds(self, telegram_id: int) -> Optional[HoldsInfo]: ...
    def reverse_record(
        self,
        record_id: Optional[int] = None,
        *,
        reference: Optional[str] = None,
        amount: Optional[int] = None,
        reason: str = "reversal",
        reversal_reference: Optional[str] = None,
    ) -> ReverseResult: ...
    def transfer_credits(
        self, from_id: int, to_id: int, amount: int, reason: str, reference: Optional[str] = None
    ) -> TransferResult: ...
    def credit_stars_payment(
        self, telegram_id: int, payment: StarsPayment, credits_per_star: int = 1
    ) -> SyncResult: ...
    def refund_stars_payment(
        self, charge_id: str, reason: str = "Telegram Stars refund"
    ) -> ReverseResult: ...
    def get_balance(self, telegram_id: int) -> Optional[BalanceInfo]: ...
    def get_records(
        self, telegram_id: int, limit: int = 20, cursor: Optional[str] = None
    ) -> RecordsInfo: ...
    def get_events(
        self, after: Optional[str] = None, limit: int = 100, wait: int = 0
    ) -> EventsInfo: ...
    def iter_events(self, after: Optional[str] = None) -> EventIterator: ...
    def iter_records(self, telegram_id: int, page_size: int = 100) -> RecordIterator: ...
    def register_user(self, telegram_id: int, nickname: Optional[str] = None) -> UserInfo: ...
    def close(self) -> None: ...
    def __enter__(self) -> CreditSyncClient: ...
    def __exit__(self, *_args: object) -> bool: ...

@final
class AsyncClient:
    """The async client's native half; use ``credit_sync_client.AsyncCreditSyncClient``."""

    def __new__(
        cls,
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
    ) -> AsyncClient: ...
    @staticmethod
    def from_env(
        *,
        timeout: float = 10.0,
        max_retries: int = 3,
        attempt_timeout: Optional[float] = None,
        retry_budget: Optional[int] = 500,
        proxy: Optional[str] = None,
        ca_file: Optional[Union[str, os.PathLike[str]]] = None,
    ) -> AsyncClient: ...
    @property
    def base_url(self) -> str: ...
    @property
    def source(self) -> str: ...
    def add_credits(
        self, telegram_id: int, amount: int, reason: str, reference: Optional[str] = None
    ) -> Awaitable[SyncResult]: ...
    def deduct_credits(
        self, telegram_id: int, amount: int, reason: str, reference: Optional[str] = None
    ) -> Awaitable[SyncResult]: ...
    def batch_sync(
        self, items: Iterable[BatchItem], *, atomic: bool = False
    ) -> Awaitable[SyncResult]: ...
    def hold_credits(
        self,
        telegram_id: int,
        amount: int,
        reason: str,
        reference: Optional[str] = None,
        ttl_seconds: int = 600,
    ) -> Awaitable[HoldResult]: ...
    def capture_hold(
        self, hold_id: str, amount: Optional[int] = None, reference: Optional[str] = None
    ) -> Awaitable[HoldResult]: ...
    def void_hold(self, hold_id: str, reference: Optional[str] = None) -> Awaitable[HoldResult]: ...
    def get_holds(self, telegram_id: int) -> Awaitable[Optional[HoldsInfo]]: ...
    def reverse_record(
        self,
        record_id: Optional[int] = None,
        *,
        reference: Optional[str] = None,
        amount: Optional[int] = None,
        reason: str = "reversal",
        reversal_reference: Optional[str] = None,
    ) -> Awaitable[ReverseResult]: ...
    def transfer_credits(
        self, from_id: int, to_id: int, amount: int, reason: str, reference: Optional[str] = None
    ) -> Awaitable[TransferResult]: ...
    def credit_stars_payment(
        self, telegram_id: int, payment: StarsPayment, credits_per_star: int = 1
    ) -> Awaitable[SyncResult]: ...
    def refund_stars_payment(
        self, charge_id: str, reason: str = "Telegram Stars refund"
    ) -> Awaitable[ReverseResult]: ...
    def get_balance(self, telegram_id: int) -> Awaitable[Optional[BalanceInfo]]: ...
    def get_records(
        self, telegram_id: int, limit: int = 20, cursor: Optional[str] = None
    ) -> Awaitable[RecordsInfo]: ...
    def get_events(
        self, after: Optional[str] = None, limit: int = 100, wait: int = 0
    ) -> Awaitable[EventsInfo]: ...
    def events(self, after: Optional[str] = None) -> AsyncEventFeed: ...
    def records(self, telegram_id: int, page_size: int = 100) -> AsyncRecordWalk: ...
    def register_user(
        self, telegram_id: int, nickname: Optional[str] = None
    ) -> Awaitable[UserInfo]: ...
    def close(self) -> None: ...

def make_reference(*parts: Union[str, int]) -> str: ...
def verify_webhook(
    headers: Union[Mapping[str, str], Iterable[tuple[str, str]]],
    body: Union[bytes, bytearray, str],
    secret: Union[str, Sequence[str]],
) -> Event: ...
def generate_token(
    telegram_id: int, amount: int, source: str, timestamp: int, secret: str
) -> str: ...

class CreditSyncError(Exception):
    code: str
    message: str
    # Set by ``SyncResult.raise_for_error()`` from a failed write; ``None`` otherwise.
    reference: Optional[str]
    attempts: Optional[int]
    retryable: Optional[bool]
    request_id: Optional[str]

class AuthenticationError(CreditSyncError): ...

class TimestampError(AuthenticationError):
    server_time: Optional[int]

class InsufficientCreditsError(CreditSyncError):
    balance: Optional[int]

class ReferenceConflictError(CreditSyncError):
    fields: Sequence[str]

class UserNotFoundError(CreditSyncError): ...
class NotFoundError(CreditSyncError): ...
class ConflictError(CreditSyncError): ...

class HoldResolvedError(ConflictError):
    # The hold's final state, when the server sent it.
    hold: Optional[HoldInfo]

class ValidationError(CreditSyncError):
    field: Optional[str]

class RateLimitError(CreditSyncError):
    retry_after: Optional[float]

class TransportError(CreditSyncError): ...
class TimeoutError(TransportError): ...

class ServerError(CreditSyncError):
    status: Optional[int]

class CursorExpiredError(CreditSyncError): ...
class WebhookVerificationError(CreditSyncError): ...
