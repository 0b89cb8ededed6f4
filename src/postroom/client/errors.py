"""The API's error answers as exceptions, one class per status a caller handles differently.

Every error answer carries the envelope `{"status", "message": {"short", "long"}, "errors"}`
(docs/api.md); an answer without it (a proxy's HTML page, a cut body) still becomes a
PostroomError with its HTTP status.
"""

import json
from collections.abc import Mapping
from typing import Any

_MAX_TEXT = 200  # of a body that is not the envelope, quoted in the message


class PostroomError(Exception):
    """An error answer: `status` (the HTTP status; None when no answer came), `title` (the
    envelope's `message.short`), `message` (its `message.long`), `errors` (field path to
    reason), `code` (its `status` name, such as `BAD_REQUEST`) and `retry_after` (seconds from
    `Retry-After`, or None)."""

    def __init__(
        self,
        status: int | None,
        title: str,
        message: str,
        errors: Mapping[str, str] | None = None,
        code: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status}: {title}: {message}" if status else f"{title}: {message}")
        self.status = status
        self.title = title
        self.message = message
        self.errors = dict(errors or {})
        self.code = code
        self.retry_after = retry_after


class InvalidEmailError(PostroomError):
    """400: the request was refused as invalid (an email's fields, a suppression entry, a query
    parameter, an Idempotency-Key); `errors` names each bad field."""


class AuthenticationError(PostroomError):
    """401: the API key is missing, wrong or revoked."""


class ForbiddenError(PostroomError):
    """403: the API key lacks the scope the route needs (`errors["scope"]` says which)."""


class NotFoundError(PostroomError):
    """404: no such email for this key, or the address is not on the suppression list."""


class ConflictError(PostroomError):
    """409: the Idempotency-Key was used with another email, or the email can no longer be
    cancelled."""


class RateLimitedError(PostroomError):
    """429: the key is over its rate limit or daily quota; `retry_after` says when to come back."""


class UnavailableError(PostroomError):
    """503: storage (or the queue) could not take the request; nothing was stored."""


class ConnectionFailedError(PostroomError):
    """No answer: the connection failed or timed out (`status` is None). A send may still have
    been stored; sending again with the same Idempotency-Key records it once."""

    def __init__(self, detail: str) -> None:
        super().__init__(None, "No answer", detail)


_BY_STATUS: dict[int, type[PostroomError]] = {
    400: InvalidEmailError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitedError,
    503: UnavailableError,
}


def error_from(status: int, body: bytes, retry_after: float | None) -> PostroomError:
    """The exception for an error answer of `status` with `body`."""
    kind = _BY_STATUS.get(status, PostroomError)
    envelope = _envelope(body)
    if envelope is None:
        text = body[:_MAX_TEXT].decode("utf-8", "replace").strip()
        return kind(status, f"HTTP {status}", text or "no error envelope", retry_after=retry_after)
    message = envelope.get("message")
    message = message if isinstance(message, dict) else {}
    errors = envelope.get("errors")
    return kind(
        status,
        str(message.get("short", f"HTTP {status}")),
        str(message.get("long", "")),
        {str(k): str(v) for k, v in errors.items()} if isinstance(errors, dict) else {},
        str(envelope.get("status", "")),
        retry_after,
    )


def _envelope(body: bytes) -> dict[str, Any] | None:
    try:
        decoded = json.loads(body)
    except ValueError:
        return None
    if isinstance(decoded, dict) and "message" in decoded:
        return decoded
    return None
