"""GET /api/v1/events: the caller's tenant's events feed, for applications that cannot
receive webhooks (docs/webhooks.md, "The events feed").

The cursor is the feed's sequence: pass the `cursor` of the last page as `after` and nothing
is missed or repeated. Pages carry the same payloads as the webhooks.
"""

from starlette.requests import Request
from starlette.responses import Response

from postroom.api.container import Container
from postroom.api.emails import calling_tenant
from postroom.api.responses import error_response, json_response, storage_unavailable
from postroom.domain.errors import StorageUnavailableError
from postroom.domain.keys import READ
from postroom.domain.webhooks import unknown_types
from postroom.services.feed import MAX_PAGE

DEFAULT_PAGE = 100
MAX_CURSOR_DIGITS = 19  # a signed 64-bit sequence


async def events(request: Request) -> Response:
    container: Container = request.app.state.container
    found = await calling_tenant(request, READ)
    if isinstance(found, Response):
        return found
    if container.feed is None:
        return error_response(404, "Not found", "The events feed is not available here.")
    query = _query(request)
    if isinstance(query, dict):
        return error_response(400, "Invalid query", "Some parameters are invalid.", query)
    after, types, limit = query
    try:
        page = await container.feed.page(found[1], after, types, limit)
    except StorageUnavailableError:
        return storage_unavailable()
    return json_response({"data": page.events, "cursor": page.cursor})


def _query(request: Request) -> tuple[int, list[str], int] | dict[str, str]:
    params = request.query_params
    errors: dict[str, str] = {}
    after_text = params.get("after") or "0"
    if not (after_text.isascii() and after_text.isdigit() and len(after_text) <= MAX_CURSOR_DIGITS):
        errors["after"] = "a cursor this feed gave (a whole number)"
    names = [t for part in params.getlist("types") for t in part.split(",") if t]
    if unknown_types(names):
        errors["types"] = "event type names, comma-separated (email.bounced, ...)"
    limit_text = params.get("limit") or str(DEFAULT_PAGE)
    limit = int(limit_text) if limit_text.isascii() and limit_text.isdigit() else 0
    if not 1 <= limit <= MAX_PAGE:
        errors["limit"] = f"a whole number from 1 to {MAX_PAGE}"
    if errors:
        return errors
    return int(after_text), names, limit
