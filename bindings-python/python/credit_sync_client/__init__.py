"""Credit Sync client: cross-project credit (points) sync for Telegram bots.

The guide's API, as a native extension over the Rust core::

    from credit_sync_client import CreditSyncClient

    client = CreditSyncClient(base_url="https://api.yourdomain.com",
                              api_key="...", secret_key="...", source="media_bot")
    result = client.add_credits(telegram_id=123456789, amount=100,
                                reason="reward", reference="video_12345")
    if result.success:
        print(result.balance)

Signing, retries and HTTP all happen in the native core; this package only
re-exports it.
"""

from ._native import (
    AsyncCreditSyncClient,
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
