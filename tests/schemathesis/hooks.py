"""Schemathesis hooks for credit-sync: sign every request with v2, as a real client does.

The document declares two API-key schemes: `X-Api-Key` (the source's key) and
`X-Signature` (v2). Schemathesis fills `X-Signature` with the placeholder from
schemathesis.toml; just before the request goes out, `V2Signer` replaces that
placeholder with the real signature over the exact bytes sent (docs/protocol.md,
"v2 signature"). A request whose `X-Signature` Schemathesis removed or replaced (its
authentication probes) goes out as it is, so the server's refusal is what is checked.

The installed `credit_sync_client` wheel exposes v1 tokens only (`generate_token`), so
the v2 string is built here, from protocol.md:
    hex(HMAC-SHA256(secret, "{t}\\n{METHOD}\\n{path?query}\\n{hex sha256(body)}"))
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time

import requests
import schemathesis

SECRET = os.environ["CREDIT_SYNC_SCHEMATHESIS_SECRET"]
SOURCE = os.environ["CREDIT_SYNC_SCHEMATHESIS_SOURCE"]
PLACEHOLDER = os.environ["CREDIT_SYNC_SCHEMATHESIS_SIGN_PLACEHOLDER"]
SIGNATURE_HEADER = "X-Signature"


def v2_signature(secret: str, timestamp: int, method: str, target: str, body: bytes) -> str:
    body_hash = hashlib.sha256(body).hexdigest()
    signed = f"{timestamp}\n{method.upper()}\n{target}\n{body_hash}"
    return hmac.new(secret.encode(), signed.encode(), hashlib.sha256).hexdigest()


class V2Signer(requests.auth.AuthBase):
    """Signs the prepared request: its method, target and body exactly as they go out."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if request.headers.get(SIGNATURE_HEADER) != PLACEHOLDER:
            return request
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        timestamp = int(time.time())
        hex_ = v2_signature(SECRET, timestamp, request.method or "GET", request.path_url, body)
        request.headers[SIGNATURE_HEADER] = f"t={timestamp},v2={hex_}"
        return request


# The test vector of docs/protocol.md ("v2, GET"), so a wrong signer fails here, not as 401s.
assert (
    v2_signature("your-secret-key-here", 1700000000, "GET", "/api/credits/records/123456789?limit=5", b"")
    == "09f56346996029ebe5cc7430b5fa443e5fd2f13a8e69bbf1206b5cac5c47fddf"
)


@schemathesis.hook
def before_call(context, case, kwargs):
    # `source` names the caller, which the API key already fixes: a document cannot know
    # it, so a generated string is replaced by the key's source (a non-string, which is
    # negative data, stays as generated).
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("source"), str):
        body["source"] = SOURCE
    kwargs["auth"] = V2Signer()
