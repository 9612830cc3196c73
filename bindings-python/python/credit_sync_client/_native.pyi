"""Type stubs for the native module ``credit_sync_client._native``."""

from typing import final, Any, Awaitable, Dict, Iterable, List, Mapping, Optional, Sequence, TypedDict, Union

__version__: str

class BalanceInfo(TypedDict):
    telegram_id: int
    credits: int
    nickname: Optional[str]

class RecordInfo(TypedDict):
    id: int
    change: int
    balance_after: int
    reason: str
    source: str
    external_reference: Optional[str]
    created_at: str

class RecordsInfo(TypedDict):
    records: List[RecordInfo]
    next_cursor: Optional[str]

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
    ) -> CreditSyncClient: ...
    @staticmethod
    def from_env(*, timeout: float = 10.0, max_retries: int = 3) -> CreditSyncClient: ...
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
    def get_balance(self, telegram_id: int) -> Optional[BalanceInfo]: ...
    def get_records(
        self, telegram_id: int, limit: int = 20, cursor: Optional[str] = None
    ) -> RecordsInfo: ...
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
    ) -> AsyncClient: ...
    @staticmethod
    def from_env(*, timeout: float = 10.0, max_retries: int = 3) -> AsyncClient: ...
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
    def get_balance(self, telegram_id: int) -> Awaitable[Optional[BalanceInfo]]: ...
    def get_records(
        self, telegram_id: int, limit: int = 20, cursor: Optional[str] = None
    ) -> Awaitable[RecordsInfo]: ...
    def register_user(
        self, telegram_id: int, nickname: Optional[str] = None
    ) -> Awaitable[UserInfo]: ...
    def close(self) -> None: ...

def make_reference(*parts: Union[str, int]) -> str: ...
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

class ValidationError(CreditSyncError):
    field: Optional[str]

class RateLimitError(CreditSyncError):
    retry_after: Optional[float]

class TransportError(CreditSyncError): ...
class TimeoutError(TransportError): ...

class ServerError(CreditSyncError):
    status: Optional[int]
