"""The dashboard's Emails section: the tenant's emails searched as GET /api/v1/email searches
them (services/email_list.py), and one email's detail as GET /api/v1/email/{id} tells it
(EmailStore.status and services/recipients.py Recipients.story).

The search is a POST: a recipient address the operator types travels in its body, never in a
URL, and no log line carries it. A listed email shows its id, state, times and provider
only; its detail adds each recipient's address (the one place the dashboard shows those, to an
admin), never a subject, a body or a provider's error text.
"""

from collections.abc import Callable
from typing import Any

from starlette.responses import JSONResponse, Response

from postroom.dashboard.parts import DashboardParts
from postroom.domain.address import AddressError
from postroom.domain.errors import StorageUnavailableError
from postroom.domain.ids import is_id
from postroom.domain.rules import CONTROL, rfc3339, rfc3339_seconds
from postroom.domain.states import State
from postroom.ports.emails import EmailStatus, EmailSummary
from postroom.services.email_list import MAX_PAGE, EmailQuery
from postroom.services.recipients import Story
from postroom.web.email_json import recipient_json
from postroom.web.responses import SAFE, error

PAGE = 25
MAX_TAG_CHARS = 128
MAX_CURSOR_CHARS = 200
STATES = [str(s) for s in State]
EXAMPLE_ID = "019a2237-5c1e-7b3a-9d2f-6a1b2c3d4e5f"

Search = tuple[EmailQuery, str, int]


def read_search(body: dict[str, Any], parse_address: Callable[[str], str]) -> Search | str:
    """(query, cursor, limit) from a search body, an empty value counting as absent; or the
    line saying what is wrong."""
    text = {name: _text(body.get(name)) for name in ("state", "tag", "to", "after", "before")}
    if text["state"] is not None and text["state"] not in STATES:
        return f"The state must be one of {', '.join(STATES)}."
    tag = text["tag"]
    if tag is not None and (len(tag) > MAX_TAG_CHARS or CONTROL.search(tag)):
        return f"A tag is one line of 1 to {MAX_TAG_CHARS} characters."
    after, before = (rfc3339_seconds(t) if t else None for t in (text["after"], text["before"]))
    if (text["after"] and after is None) or (text["before"] and before is None):
        return "Times are RFC 3339 date-times like 2026-12-01T10:00:00Z."
    try:
        to = parse_address(text["to"]) if text["to"] else None
    except AddressError:
        return "That is not an email address."
    cursor = body.get("cursor") or ""
    limit = body.get("limit", PAGE)
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_CHARS:
        return "Not a cursor this list gave."
    if type(limit) is not int or not 1 <= limit <= MAX_PAGE:
        return f"The limit is a whole number from 1 to {MAX_PAGE}."
    state = State(text["state"]) if text["state"] else None
    return EmailQuery(state, tag, after, before, to), cursor, limit


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


async def search(parts: DashboardParts, tenant: str, body: dict[str, Any]) -> Response:
    """A page of the tenant's emails, newest first, and the cursor of the next one."""
    if parts.email_list is None or parts.parse_address is None:
        return error(404, "Not found", "Listing emails is not available with this storage.")
    asked = read_search(body, parts.parse_address)
    if isinstance(asked, str):
        return error(400, "Bad request", asked)
    query, cursor, limit = asked
    try:
        emails, after = await parts.email_list.page(tenant, query, cursor, limit)
    except StorageUnavailableError:
        return unavailable()
    except ValueError:
        return error(400, "Bad request", "Not a cursor this list gave.")
    found = {"emails": [summary_json(e) for e in emails], "nextCursor": after}
    return JSONResponse(found, 200, SAFE)


async def detail(parts: DashboardParts, tenant: str, email_id: str) -> Response:
    """The email's state, its history with each provider attempt, and each recipient's state
    and events; 404 for an email of another tenant, as for a missing one; 400 for what is not
    shaped like an id (the answer never repeats it: it may be an address pasted in)."""
    if parts.email_status is None or parts.email_tenant is None:
        return _no_email()
    email_id = email_id.strip().lower()  # as pasted: ids are issued in lower case
    if not is_id(email_id):
        return error(400, "Bad request", f"That is not an email id (like {EXAMPLE_ID}).")
    try:
        found = await parts.email_status(email_id)
        if found is None or await parts.email_tenant(found) != tenant:
            return _no_email()
        story = await parts.recipients.story(found) if parts.recipients is not None else None
    except StorageUnavailableError:
        return unavailable()
    return JSONResponse(detail_json(found, story), 200, SAFE)


def summary_json(email: EmailSummary) -> dict[str, Any]:
    return {
        "id": email.id,
        "status": email.state,
        "createdAt": rfc3339(email.created_at),
        "sendAt": rfc3339(email.send_at),
        "provider": email.provider or None,
    }


def detail_json(status: EmailStatus, story: Story | None) -> dict[str, Any]:
    """The fields GET /api/v1/email/{id} gives, but an event's reason (which may quote a
    provider's error text) and the template; `story` None: the store keeps no recipients."""
    derived = story.derived if story is not None else None
    return {
        "id": status.id,
        "status": derived or status.state,
        "delivery": status.state,
        "createdAt": rfc3339(status.created_at),
        "sendAt": rfc3339(status.send_at),
        "attempts": status.attempts,
        "events": [
            {
                "at": rfc3339(e.at),
                "status": e.state,
                "provider": e.provider or None,
                "outcome": e.outcome or None,
                "code": e.code or None,
            }
            for e in status.events
        ],
        "recipients": _recipients(story),
    }


def _recipients(story: Story | None) -> list[dict[str, Any]] | None:
    if story is None:
        return None
    return [recipient_json(r, descriptions=False) for r in story.reports]


def unavailable() -> Response:
    return error(503, "Storage unavailable", "The store cannot be read; retry later.")


def _no_email() -> Response:
    return error(404, "Not found", "No email with this id.")
