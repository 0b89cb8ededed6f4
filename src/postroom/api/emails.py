"""/api/v1/email/{id}: status and cancel. Submission is in intake.py."""

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from postroom.api.container import Container
from postroom.api.responses import (
    error_response,
    forbidden,
    json_response,
    storage_unavailable,
    unauthorized,
)
from postroom.domain.errors import CipherError, StorageUnavailableError
from postroom.domain.ids import is_id
from postroom.domain.keys import DEFAULT_TENANT, READ, SEND, allows
from postroom.domain.rules import rfc3339 as iso
from postroom.domain.states import State
from postroom.logs import get_logger, log_event
from postroom.ports.emails import CancelOutcome, EmailStatus
from postroom.services.recipients import RenderedFrom
from postroom.web.email_json import recipient_json

log = get_logger("api")


async def caller(request: Request, scope: str) -> str | Response:
    """The calling key's id ("" without authentication), or the 401/403/503 to answer instead."""
    found = await calling_tenant(request, scope)
    return found if isinstance(found, Response) else found[0]


async def calling_tenant(request: Request, scope: str) -> tuple[str, str] | Response:
    """The calling key's id and tenant (("", "default") without authentication), or the
    401/403/503 to answer instead: 403 for a valid key without `scope` (domain/keys.py), which
    every route names, checked before anything else about the request is told."""
    container: Container = request.app.state.container
    if container.authenticate is None:
        return "", DEFAULT_TENANT
    try:
        key = await container.authenticate(request.headers.get("authorization"))
    except StorageUnavailableError:
        return storage_unavailable()
    if key is None:
        log_event(log, "auth.refused", status=401)
        return unauthorized()
    if not allows(key.scopes, scope):
        log_event(log, "auth.forbidden", status=403, scope=scope)
        return forbidden(scope)
    return key.id, key.tenant


async def owned(request: Request, scope: str) -> EmailStatus | Response:
    """The email the path names if the caller may see it; else the 401, 403, 404 or 503 to
    answer. Another key's email looks exactly like a missing one."""
    container: Container = request.app.state.container
    owner = await caller(request, scope)
    if isinstance(owner, Response):
        return owner
    email_id = request.path_params["id"]
    try:
        found = await container.emails.status(email_id) if is_id(email_id) else None
    except StorageUnavailableError:
        return storage_unavailable()
    if found is None or found.owner != owner:
        return _not_found()
    return found


async def status_or_cancel(request: Request) -> Response:
    """/api/v1/email/{id} takes GET and DELETE on one route, so its 405 lists both."""
    return await (cancel(request) if request.method == "DELETE" else status(request))


async def status(request: Request) -> Response:
    """GET /api/v1/email/{id}: state, events and each recipient's story, never content; only
    for the key that sent it (the only caller shown the recipients' addresses)."""
    container: Container = request.app.state.container
    found = await owned(request, READ)
    if isinstance(found, Response):
        return found
    body = status_body(found, container.open_text)
    if container.recipients is not None:
        try:
            story = await container.recipients.story(found)
        except StorageUnavailableError:
            return storage_unavailable()
        body["recipients"] = [recipient_json(r) for r in story.reports]
        if story.derived is not None:
            body["status"] = story.derived
        body["template"] = _template(story.template)
    return json_response(body)


def _template(used: RenderedFrom | None) -> dict[str, object] | None:
    """The stored template and version the email was rendered from; None for the others."""
    return None if used is None else {"id": used.template_id, "version": used.version}


def status_body(found: EmailStatus, open_text: Callable[[str, str], str]) -> dict[str, object]:
    """Every time in it is an RFC 3339 UTC string with milliseconds (docs/api.md)."""
    return {
        "id": found.id,
        "status": found.state,
        "createdAt": iso(found.created_at),
        "sendAt": iso(found.send_at),
        "attempts": found.attempts,
        "events": [
            {
                "at": iso(e.at),
                "status": e.state,
                "provider": e.provider or None,
                "reason": _opened(open_text, e.reason, found.id) or None,
                "outcome": e.outcome or None,
                "code": e.code or None,
            }
            for e in found.events
        ],
    }


async def cancel(request: Request) -> Response:
    """DELETE /api/v1/email/{id}: cancel while no worker has taken it (the `send` scope: taking
    back what the key sent)."""
    container: Container = request.app.state.container
    found = await owned(request, SEND)
    if isinstance(found, Response):
        return found
    email_id = found.id
    try:
        outcome, state = await container.emails.cancel(email_id)
    except StorageUnavailableError:
        return storage_unavailable()
    if outcome is CancelOutcome.NOT_FOUND:
        return _not_found()
    if outcome is CancelOutcome.TOO_LATE:
        return error_response(
            409,
            "Too late to cancel",
            f"The email is {state}; only queued, scheduled or retrying emails can be cancelled.",
            {"status": str(state)},
        )
    log_event(log, "email.cancelled", id=email_id)
    if container.on_cancelled is not None:
        # The email is cancelled; its recipients' `cancelled` events are a second write. If
        # that fails the caller hears 503 and retries: a cancel of a cancelled email answers
        # 200 and records the events again, stored once (their dedup keys). A crash between
        # the two writes leaves the caller without an answer, which it retries the same way.
        try:
            await container.on_cancelled(email_id)
        except StorageUnavailableError:
            return storage_unavailable()
    return json_response({"id": email_id, "status": State.CANCELLED})


def _not_found() -> Response:
    return error_response(404, "Not found", "No email with this id.")


def _opened(open_text: Callable[[str, str], str], text: str, email_id: str) -> str:
    try:
        return open_text(text, email_id)
    except CipherError:
        return "(encrypted with a key that is not configured)"
