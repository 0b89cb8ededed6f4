"""API keys: 256-bit random tokens with a recognisable prefix, stored only as hashes."""

import base64
import hashlib
import math
from collections.abc import Iterable

from postroom.domain.rules import rfc3339_seconds

TOKEN_PREFIX = "pr_"  # noqa: S105 (a label every key starts with, not a secret)
# Shown in listings to tell keys apart; far too short to help guess the rest.
VISIBLE_CHARS = 10


def new_token(rand: bytes) -> str:
    """A key from 32 random bytes the caller supplies: `pr_` and 43 URL-safe characters."""
    if len(rand) < 32:
        raise ValueError("an API key needs 32 random bytes")
    return TOKEN_PREFIX + base64.urlsafe_b64encode(rand[:32]).decode().rstrip("=")


def token_hash(token: str) -> str:
    """What is stored. A fast hash is right here: the token has 256 bits of entropy, so there is
    no dictionary to slow down, and it is computed on every request."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def visible_prefix(token: str) -> str:
    return token[: len(TOKEN_PREFIX) + VISIBLE_CHARS]


# The tenant of keys made without one, and of every key made before tenants existed.
DEFAULT_TENANT = "default"


# -- scopes: what a key may do. `admin` implies every other scope.
SEND = "send"  # submit (one email, a batch, SMTP AUTH) and cancel
READ = "read"  # an email's status, the events feed, /metrics
WEBHOOKS = "webhooks"  # the tenant's webhook endpoints
SUPPRESSIONS = "suppressions"  # the tenant's suppression list
TEMPLATES = "templates"  # the tenant's templates (sending with one needs only `send`)
ADMIN = "admin"
SCOPES = (SEND, READ, WEBHOOKS, SUPPRESSIONS, TEMPLATES, ADMIN)
# What a key made without --scope gets, and what every key made before scopes existed has.
DEFAULT_SCOPES = frozenset({SEND, READ})


class UnknownScopeError(ValueError):
    """A scope name that is not one of SCOPES; str() names it and the known ones."""


def parse_scopes(values: Iterable[str]) -> frozenset[str]:
    """The scopes of `--scope` values, each one name or several comma-separated; empty parts
    are skipped, names are case-insensitive. UnknownScopeError for a name not in SCOPES."""
    names = {part.strip().lower() for value in values for part in value.split(",")}
    names.discard("")
    for name in sorted(names):
        if name not in SCOPES:
            raise UnknownScopeError(f"unknown scope {name!r}; scopes are {', '.join(SCOPES)}")
    return frozenset(names)


def allows(scopes: frozenset[str], needed: str) -> bool:
    """Whether a key with `scopes` may use a route that needs `needed`."""
    return needed in scopes or ADMIN in scopes


def scopes_text(scopes: frozenset[str]) -> str:
    """How scopes are stored and shown: their names in SCOPES order, comma-separated."""
    return ",".join(name for name in SCOPES if name in scopes)


def scopes_from_text(text: str) -> frozenset[str]:
    """The scopes of a stored `scopes_text`; a name this release does not know is dropped (a
    newer release's scope grants nothing here)."""
    return frozenset(name for name in text.split(",") if name in SCOPES)


def expired(expires_at: float | None, now: float) -> bool:
    """Whether a key that expires at `expires_at` (None: never) is refused at `now`."""
    return expires_at is not None and now >= expires_at


def expiry(days: str | None, at: str | None, now: float) -> float | None:
    """When a new key expires, from `--expires-in DAYS` or `--expires-at RFC3339` (None: never);
    ValueError with the reason for a malformed, non-positive or past one."""
    if days is not None:
        try:
            count = float(days)
        except ValueError:
            count = math.nan
        if not (math.isfinite(count) and count > 0):
            raise ValueError("--expires-in: a positive number of days")
        return now + count * 86400
    if at is None:
        return None
    moment = rfc3339_seconds(at)
    if moment is None:
        raise ValueError("--expires-at: an RFC 3339 time with an offset (2027-01-31T00:00:00Z)")
    if moment <= now:
        raise ValueError("--expires-at: that time has passed")
    return moment
