"""API keys: 256-bit random tokens with a recognisable prefix, stored only as hashes."""

import base64
import hashlib

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
