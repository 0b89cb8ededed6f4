"""What every answer of the service's own pages carries, and their JSON error envelope."""

from starlette.responses import JSONResponse, Response

SAFE = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_NAMES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    503: "SERVICE_UNAVAILABLE",
}


def error(status: int, short: str, long: str, headers: dict[str, str] | None = None) -> Response:
    """The API's error envelope (docs/design.md)."""
    body = {"status": _NAMES[status], "message": {"short": short, "long": long}, "errors": {}}
    return JSONResponse(body, status, {**SAFE, **(headers or {})})
