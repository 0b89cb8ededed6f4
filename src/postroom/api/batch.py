"""POST /api/v1/email/batch: up to MAX_BATCH emails in one request and one durable write.

Each item is an email as POST /api/v1/email takes it (a full email or a template and its
variables) and gets its own answer, in order: the id it was stored as, or its errors. Invalid
items never stop valid ones. A batch over MAX_BATCH items, or over the body limit, is refused
whole (413). With an Idempotency-Key, item i is idempotent under "KEY:i".
"""

from collections.abc import Collection
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from postroom.api.container import Container
from postroom.api.emails import calling_tenant
from postroom.api.intake import IDEMPOTENCY_KEY, STATUS_PATH, SUPPRESSED_WARNING
from postroom.api.responses import error_response, json_response, storage_unavailable
from postroom.api.suppressions import json_body
from postroom.domain.errors import InvalidEmailError, StorageUnavailableError
from postroom.domain.keys import SEND
from postroom.domain.validation import warnings
from postroom.logs import get_logger, log_event
from postroom.ports.queue import PutOutcome
from postroom.services.submit import IdempotencyConflictError, Submitted

log = get_logger("api")

MAX_BATCH = 500
_OVER_LIMIT = {"email": "over this API key's sending limit; retry later"}
_CONFLICT = {"Idempotency-Key": "this key and index were used for a different email"}
_STATUS_PREFIX = STATUS_PATH.format("")


async def submit_batch(request: Request) -> Response:
    """The answer to one batch: 200 with one result per item, or the whole batch refused."""
    container: Container = request.app.state.container
    found = await calling_tenant(request, SEND)
    if isinstance(found, Response):
        return found
    owner, tenant = found
    key = request.headers.get("idempotency-key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        return error_response(
            400,
            "Bad Idempotency-Key",
            "Send 1 to 255 visible ASCII characters.",
            {"Idempotency-Key": "must be 1 to 255 visible ASCII characters"},
        )
    if container.submit_many is None:
        return error_response(404, "Not found", "Batches are not available here.")
    data = await json_body(request, container)
    if isinstance(data, Response):
        return data
    items = _items(data)
    if isinstance(items, Response):
        return items
    limited = await _over_limit(container, owner, len(items))
    try:
        outcomes = await container.submit_many(items, key, owner, tenant, limited)
    except StorageUnavailableError:
        return storage_unavailable()
    results = [_result(item, outcome) for item, outcome in zip(items, outcomes, strict=True)]
    accepted = [r["code"] for r in results].count(202)
    log_event(log, "email.batch", items=len(items), accepted=accepted)
    return json_response({"data": results})


def _items(data: Any) -> list[Any] | Response:
    """The batch's emails, or the 400 or 413 that refuses it whole."""
    items = data.get("emails") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        return error_response(
            400,
            "Invalid batch",
            'Send {"emails": [...]} with 1 to 500 emails.',
            {"emails": f"must be a list of 1 to {MAX_BATCH} emails"},
        )
    if len(items) > MAX_BATCH:
        return error_response(
            413,
            "Batch too large",
            f"A batch holds at most {MAX_BATCH} emails; nothing was stored.",
            {"emails": f"at most {MAX_BATCH} emails"},
        )
    return items


async def _over_limit(container: Container, owner: str, count: int) -> Collection[int]:
    """The items past the key's sending budget: each item takes one email from it."""
    if container.limit_many is not None:  # one take for the whole batch
        return range(await container.limit_many(owner, count), count)
    if container.limit is None:
        return set()
    limited = set()
    for i in range(count):
        if not (await container.limit(owner)).allowed:
            limited.add(i)
    return limited


def _result(
    data: Any, outcome: Submitted | InvalidEmailError | IdempotencyConflictError | None
) -> dict[str, Any]:
    """One item's answer: `code` as the single-email route would answer it."""
    if type(outcome) is Submitted:  # nearly every item: asked first
        return _stored(data, outcome)
    if outcome is None:
        return {"code": 429, "errors": _OVER_LIMIT}
    if isinstance(outcome, InvalidEmailError):
        return {"code": 400, "errors": outcome.errors}
    return {"code": 409, "errors": _CONFLICT}


def _stored(data: Any, outcome: Submitted) -> dict[str, Any]:
    result = outcome.result
    answer: dict[str, Any] = {
        "code": 202 if result.outcome is PutOutcome.CREATED else 200,
        "id": result.id,
        "status": result.state,
        "statusUrl": _STATUS_PREFIX + result.id,
    }
    notes = warnings(data) if type(data) is dict else ()
    if outcome.suppressed:
        answer["suppressed"] = list(outcome.suppressed)
        notes = (*notes, SUPPRESSED_WARNING)
    if notes:
        answer["warnings"] = list(notes)
    return answer
