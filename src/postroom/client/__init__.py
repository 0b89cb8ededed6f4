"""A Python client for Postroom's HTTP API (docs/client.md): `Client` for blocking code,
`AsyncClient` for asyncio, one exception class per error status, and `verify_webhook` for the
webhooks Postroom signs.

It imports nothing of the server (an import-linter contract says so), only the standard
library, aiohttp and the signature rules in postroom.domain.signing.
"""

from postroom.client.aio import AsyncClient, AsyncSuppressions
from postroom.client.errors import (
    AuthenticationError,
    ConflictError,
    ConnectionFailedError,
    ForbiddenError,
    InvalidEmailError,
    NotFoundError,
    PostroomError,
    RateLimitedError,
    UnavailableError,
)
from postroom.client.sync import Client, Suppressions
from postroom.client.webhooks import verify_webhook
from postroom.client.wire import Accepted
from postroom.domain.signing import WebhookVerificationError

__all__ = [
    "Accepted",
    "AsyncClient",
    "AsyncSuppressions",
    "AuthenticationError",
    "Client",
    "ConflictError",
    "ConnectionFailedError",
    "ForbiddenError",
    "InvalidEmailError",
    "NotFoundError",
    "PostroomError",
    "RateLimitedError",
    "Suppressions",
    "UnavailableError",
    "WebhookVerificationError",
    "verify_webhook",
]
