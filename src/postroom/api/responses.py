"""JSON responses and the error envelope every error answer uses (docs/design.md)."""

from collections.abc import Mapping
from typing import Any

import msgspec
from starlette.responses import Response

_encoder = msgspec.json.Encoder()


def json_response(
    body: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(_encoder.encode(body), status_code, headers, "application/json")


_STATUS_NAMES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    408: "REQUEST_TIMEOUT",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


def error_body(
    status_code: int, short: str, long: str, errors: Mapping[str, str] | None = None
) -> bytes:
    """`{"status", "message": {"short", "long"}, "errors": {field: reason}}`."""
    return _encoder.encode(
        {
            "status": _STATUS_NAMES.get(status_code, "ERROR"),
            "message": {"short": short, "long": long},
            "errors": dict(errors or {}),
        }
    )


def error_response(
    status_code: int,
    short: str,
    long: str,
    errors: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = error_body(status_code, short, long, errors)
    return Response(body, status_code, headers, "application/json")


def storage_unavailable_body() -> bytes:
    return error_body(
        503,
        "Storage unavailable",
        "The email could not be stored, so it was not accepted. Retry later.",
    )


RETRY_AFTER_SECONDS = 5


def storage_unavailable() -> Response:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return Response(storage_unavailable_body(), 503, headers, "application/json")


# One answer for a missing, malformed, wrong, revoked or expired key: nothing tells them apart.
UNAUTHORIZED_BODY = error_body(
    401, "Unauthorized", "Send a valid API key as Authorization: Bearer KEY."
)


def unauthorized() -> Response:
    return Response(UNAUTHORIZED_BODY, 401, {"WWW-Authenticate": "Bearer"}, "application/json")


def forbidden_body(needed: str) -> bytes:
    """A valid key without the scope a route needs: the scope is named, never the key."""
    return error_body(
        403,
        "Forbidden",
        f"This API key lacks the `{needed}` scope this route needs; "
        f"use a key made with `postroom keys create --scope {needed}` (or admin).",
        {"scope": f"`{needed}` needed"},
    )


def forbidden(needed: str) -> Response:
    return Response(forbidden_body(needed), 403, None, "application/json")
