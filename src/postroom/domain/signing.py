"""Standard Webhooks signatures (standard-webhooks/standard-webhooks, spec/standard-webhooks.md).

A message is signed as `base64(HMAC-SHA256(key, f"{webhook-id}.{webhook-timestamp}.{body}"))`
over the exact body bytes, sent as `webhook-signature: v1,<signature>`; the headers
`webhook-id` and `webhook-timestamp` (integer Unix seconds) go beside it. A secret is
`whsec_` and the base64 of 24 to 64 random bytes, the key. While a secret is rotated, a sender
signs with the old and the new one and the header lists both, separated by spaces; a receiver
accepts a message when any `v1` entry matches one of its secrets.

Read as the spec's own libraries read it, so that what they sign verifies here and the other
way round: a secret is taken with or without its `whsec_` prefix and with or without its `=`
padding (non-zero trailing bits are ignored, as Python's decoder and theirs do); header names
in any letter case; entries of another version (`v1a`, `v2`) are skipped; a timestamp more
than the tolerance (five minutes, theirs) before or after the receiver's clock is refused.

Pure: the caller supplies the random bytes and the current time.
"""

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

SECRET_PREFIX = "whsec_"  # noqa: S105 (the spec's label for a secret, not a secret)
VERSION = "v1"
MIN_KEY_BYTES = 24
MAX_KEY_BYTES = 64
TOLERANCE = 300  # seconds either way, as in every library of the spec's repository
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"

_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
# Integer Unix seconds; twenty digits is far past any clock and keeps int() cheap.
_TIMESTAMP = re.compile(r"[0-9]{1,20}")

Secrets = str | Sequence[str]


class WebhookVerificationError(ValueError):
    """The message is not one the secret signed: a header missing or malformed, the timestamp
    outside the tolerance, or no signature that matches. The message says which, and never
    quotes a secret."""


def new_secret(random: bytes) -> str:
    """A secret from 24 to 64 random bytes the caller supplies: `whsec_` and their base64."""
    if not MIN_KEY_BYTES <= len(random) <= MAX_KEY_BYTES:
        raise ValueError(f"a webhook secret needs {MIN_KEY_BYTES} to {MAX_KEY_BYTES} random bytes")
    return SECRET_PREFIX + base64.b64encode(random).decode("ascii")


@lru_cache(maxsize=256)
def secret_key(secret: str) -> bytes:
    """The HMAC key a secret stands for. ValueError (naming no part of it) for one that is not
    base64 or is empty: a configuration error, not a verification failure. Cached: a sender
    signs every message of an endpoint with the same few secrets."""
    text = secret.removeprefix(SECRET_PREFIX)
    padded = text + "=" * (-len(text) % 4)
    if not _BASE64.fullmatch(padded):
        raise ValueError("a webhook secret must be base64, with or without whsec_")
    try:
        key = base64.b64decode(padded, validate=True)
    except binascii.Error:
        raise ValueError("a webhook secret must be base64, with or without whsec_") from None
    if not key:
        raise ValueError("a webhook secret may not be empty")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """One `v1,<base64>` entry. The id may not contain `.` and the timestamp is whole
    non-negative seconds, so that the signed content splits only one way (the spec asks
    senders for both)."""
    if not msg_id or "." in msg_id:
        raise ValueError("a webhook id must be non-empty and contain no '.'")
    if timestamp < 0:
        raise ValueError("a webhook timestamp is non-negative Unix seconds")
    digest = _digest(secret_key(secret), msg_id, str(timestamp), body)
    return f"{VERSION},{base64.b64encode(digest).decode('ascii')}"


def signature_header(secrets: Secrets, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """The `webhook-signature` value: one entry per secret, in the order given, separated by
    single spaces (a receiver holding either secret of a rotation accepts it)."""
    keys = _secret_list(secrets)
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in keys)


def verify(
    secrets: Secrets,
    headers: Mapping[str, str],
    body: bytes | str,
    now: float,
    tolerance: int = TOLERANCE,
) -> str:
    """The message's `webhook-id` (the receiver's idempotency key) when one of `secrets` signed
    exactly `body` with these headers within `tolerance` seconds of `now`; otherwise
    WebhookVerificationError. Every signature is compared in constant time."""
    keys = [secret_key(secret) for secret in _secret_list(secrets)]
    msg_id, timestamp, offered = _signed_headers(headers)
    _check_fresh(int(timestamp), now, tolerance)
    expected = [_digest(key, msg_id, timestamp, body) for key in keys]
    if not any(_matches(entry, expected) for entry in offered.split(" ")):
        raise WebhookVerificationError("no matching webhook signature")
    return msg_id


def _secret_list(secrets: Secrets) -> list[str]:
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    if not keys:
        raise ValueError("at least one webhook secret is needed")
    return keys


def _signed_headers(headers: Mapping[str, str]) -> tuple[str, str, str]:
    """(id, timestamp, signature list) from headers named in any letter case."""
    lowered = {name.lower(): value for name, value in headers.items()}
    found = []
    for name in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER):
        value = lowered.get(name, "")
        if not value:
            raise WebhookVerificationError(f"missing header {name}")
        found.append(value)
    msg_id, timestamp, offered = found
    if not _TIMESTAMP.fullmatch(timestamp):
        raise WebhookVerificationError(f"{TIMESTAMP_HEADER} is not integer Unix seconds")
    return msg_id, timestamp, offered


def _check_fresh(timestamp: int, now: float, tolerance: int) -> None:
    # Both ways: a timestamp from the future is as suspect as an old one (a replay prepared
    # with a skewed clock), and the spec's libraries refuse both.
    if timestamp < now - tolerance:
        raise WebhookVerificationError("webhook timestamp too old")
    if timestamp > now + tolerance:
        raise WebhookVerificationError("webhook timestamp too new")


def _matches(entry: str, expected: list[bytes]) -> bool:
    """One entry of the list against every expected digest; another version, an empty or
    malformed signature matches nothing."""
    version, _, signature = entry.partition(",")
    if version != VERSION or not signature or not _BASE64.fullmatch(signature):
        return False
    try:
        offered = base64.b64decode(signature, validate=True)
    except binascii.Error:
        return False
    # No early exit across secrets either: which secret matched is not told by the time taken.
    results = [hmac.compare_digest(offered, digest) for digest in expected]
    return any(results)


def _digest(key: bytes, msg_id: str, timestamp: str, body: bytes | str) -> bytes:
    raw = body.encode("utf-8") if isinstance(body, str) else body
    signed = msg_id.encode("utf-8") + b"." + timestamp.encode("ascii") + b"." + raw
    return hmac.new(key, signed, hashlib.sha256).digest()
