"""GET /api/v1/email: the calling key's tenant's emails, newest first, a page at a time
(docs/api.md). Each item is the email's state, times and provider: never a subject, a tag or an
address; an email's detail stays GET /api/v1/email/{id}."""

from collections.abc import Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response

from postroom.api.container import Container
from postroom.api.emails import calling_tenant
from postroom.api.responses import error_response, json_response, storage_unavailable
from postroom.api.suppressions import MAX_CURSOR_CHARS, address_parser
from postroom.domain.address import AddressError
from postroom.domain.errors import StorageUnavailableError
from postroom.domain.keys import READ
from postroom.domain.rules import CONTROL, rfc3339_seconds
from postroom.domain.rules import rfc3339 as iso
from postroom.domain.states import State
from postroom.ports.emails import EmailSummary
from postroom.services.email_list import MAX_PAGE, EmailQuery

DEFAULT_PAGE = 100
MAX_TAG_CHARS = 128
PARAMETERS = ("state", "tag", "after", "before", "to", "cursor", "limit")
STATES = [str(s) for s in State]


async def listing(request: Request) -> Response:
    container: Container = request.app.state.container
    found = await calling_tenant(request, READ)
    if isinstance(found, Response):
        return found
    if container.email_list is None:
        return error_response(404, "Not found", "Listing emails is not available here.")
    asked = read_query(request.query_params, address_parser(container))
    if isinstance(asked, dict):
        return _invalid(asked)
    query, cursor, limit = asked
    try:
        emails, after = await container.email_list.page(found[1], query, cursor, limit)
    except StorageUnavailableError:
        return storage_unavailable()
    except ValueError:
        return _invalid({"cursor": "not a cursor this list gave"})
    return json_response({"data": [item(e) for e in emails], "nextCursor": after})


def item(email: EmailSummary) -> dict[str, object]:
    return {
        "id": email.id,
        "status": email.state,
        "createdAt": iso(email.created_at),
        "sendAt": iso(email.send_at),
        "provider": email.provider or None,
    }


def read_query(
    params: Mapping[str, str], parse_address: Callable[[str], str]
) -> tuple[EmailQuery, str, int] | dict[str, str]:
    """(query, cursor, limit) from the parameters, an empty value counting as absent; or each
    bad parameter (an unknown one too) with what it must be."""
    errors = {name: "not a parameter of this list" for name in params if name not in PARAMETERS}
    state = params.get("state") or None
    if state is not None and state not in STATES:
        errors["state"] = f"must be one of {', '.join(STATES)}"
    tag = params.get("tag") or None
    if tag is not None and (len(tag) > MAX_TAG_CHARS or CONTROL.search(tag)):
        errors["tag"] = f"must be a tag: one line of 1 to {MAX_TAG_CHARS} characters"
    after, before = (_time(name, params.get(name) or None, errors) for name in ("after", "before"))
    to = _address(params.get("to") or None, parse_address, errors)
    cursor = params.get("cursor") or ""
    if len(cursor) > MAX_CURSOR_CHARS:
        errors["cursor"] = "not a cursor this list gave"
    limit_text = params.get("limit") or str(DEFAULT_PAGE)
    limit = int(limit_text) if limit_text.isascii() and limit_text.isdigit() else 0
    if not 1 <= limit <= MAX_PAGE:
        errors["limit"] = f"must be a whole number from 1 to {MAX_PAGE}"
    if errors:
        return errors
    query = EmailQuery(State(state) if state else None, tag, after, before, to)
    return query, cursor, limit


def _time(name: str, text: str | None, errors: dict[str, str]) -> float | None:
    """Unix seconds of an RFC 3339 date-time, as `sendAt` reads one; None when absent."""
    if text is None:
        return None
    seconds = rfc3339_seconds(text)
    if seconds is None:
        errors[name] = "must be an RFC 3339 date-time like 2026-12-01T10:00:00Z"
    return seconds


def _address(text: str | None, parse: Callable[[str], str], errors: dict[str, str]) -> str | None:
    if text is None:
        return None
    try:
        return parse(text)
    except AddressError:
        errors["to"] = "must be an email address"
        return None


def _invalid(errors: dict[str, str]) -> Response:
    return error_response(400, "Invalid query", "Some parameters are invalid; see errors.", errors)
