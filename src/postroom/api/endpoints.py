"""/api/v1/webhooks: the caller's tenant's webhook endpoints (docs/webhooks.md).

An endpoint's URL may carry a token of the application's: log lines about these routes name
the endpoint id only. The secret is in the answer to POST (and to a rotation), never after.
Another tenant's endpoint looks exactly like a missing one.
"""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from postroom.api.container import Container
from postroom.api.emails import calling_tenant
from postroom.api.responses import error_response, json_response, storage_unavailable
from postroom.api.suppressions import json_body
from postroom.domain.errors import StorageUnavailableError
from postroom.domain.keys import WEBHOOKS
from postroom.domain.rules import rfc3339 as iso
from postroom.domain.rules import rfc3339_seconds
from postroom.logs import get_logger, log_event
from postroom.ports.webhooks import Attempt, Endpoint
from postroom.services.webhook_endpoints import Change, EndpointError, Endpoints

log = get_logger("api")

MAX_TYPES = 64
MAX_URL = 2048
DEFAULT_ATTEMPTS = 50
MAX_ATTEMPTS = 500
_CREATE = frozenset({"url", "types", "description"})
_PATCH = frozenset({"url", "types", "description", "enabled"})
_REPLAY = frozenset({"since", "until", "failed_only", "webhook_id"})


async def _tenants_endpoints(request: Request) -> tuple[str, Endpoints] | Response:
    """The caller's tenant and the endpoints service, or the 401, 403, 503 or 404 to answer
    (the `webhooks` scope)."""
    container: Container = request.app.state.container
    found = await calling_tenant(request, WEBHOOKS)
    if isinstance(found, Response):
        return found
    if container.endpoints is None:
        return error_response(404, "Not found", "Webhooks are not available with this storage.")
    return found[1], container.endpoints


async def list_or_create(request: Request) -> Response:
    return await (create(request) if request.method == "POST" else listing(request))


async def one(request: Request) -> Response:
    handler = {"PATCH": update, "DELETE": delete}.get(request.method, show)
    return await handler(request)


async def create(request: Request) -> Response:
    """POST /api/v1/webhooks: 201 with the endpoint and its secret, shown this once."""
    ready = await _tenants_endpoints(request)
    if isinstance(ready, Response):
        return ready
    tenant, endpoints = ready
    data = await _object_body(request, _CREATE)
    if isinstance(data, Response):
        return data
    fields = _fields(data, required_url=True)
    if isinstance(fields, Response):
        return fields
    try:
        endpoint, secret = await endpoints.create(
            tenant, fields.url or "", fields.types or (), fields.description or ""
        )
    except EndpointError as error:
        return _invalid(str(error))
    except StorageUnavailableError:
        return storage_unavailable()
    log_event(log, "webhook.endpoint_created", endpoint=endpoint.id)
    return json_response({**endpoint_body(endpoint), "secret": secret}, 201)


async def listing(request: Request) -> Response:
    ready = await _tenants_endpoints(request)
    if isinstance(ready, Response):
        return ready
    tenant, endpoints = ready
    try:
        found = await endpoints.every(tenant)
    except StorageUnavailableError:
        return storage_unavailable()
    return json_response({"data": [endpoint_body(e) for e in found]})


async def show(request: Request) -> Response:
    ready = await _tenants_endpoints(request)
    if isinstance(ready, Response):
        return ready
    tenant, endpoints = ready
    try:
        found = await endpoints.get(tenant, request.path_params["id"])
    except StorageUnavailableError:
        return storage_unavailable()
    return json_response(endpoint_body(found)) if found else _not_found()


async def update(request: Request) -> Response:
    """PATCH /api/v1/webhooks/{id}: the fields given change; enabling clears the reason it
    was disabled and its run of failures."""
    ready = await _tenants_endpoints(request)
    if isinstance(ready, Response):
        return ready
    tenant, endpoints = ready
    data = await _object_body(request, _PATCH)
    if isinstance(data, Response):
        return data
    change = _fields(data, required_url=False)
    if isinstance(change, Response):
        return change
    try:
        found = await endpoints.update(tenant, request.path_params["id"], change)
    except EndpointError as error:
        return _invalid(str(error))
    except StorageUnavailableError:
        return storage_unavailable()
    if found is None:
        return _not_found()
    log_event(log, "webhook.endpoint_updated", endpoint=found.id)
    return json_response(endpoint_body(found))


async def delete(request: Request) -> Response:
    ready = await _tenants_endpoints(request)
    if isinstance(ready, Response):
        return ready
    tenant, endpoints = ready
    endpoint_id = request.path_params["id"]
    try:
        deleted = await endpoints.delete(tenant, endpoint_id)
    except StorageUnavailableError:
        return storage_unavailable()
    if not deleted:
        return _not_found()
    log_event(log, "webhook.endpoint_deleted", endpoint=endpoint_id)
    return Response(status_code=204)


async def rotate(request: Request) -> Response:
    """POST /api/v1/webhooks/{id}/rotate: a new secret, shown this once; the old one signs
    beside it for a day."""
    ready = await _tenants_endpoints(request)
    if isinstance(ready, Response):
        return ready
    tenant, endpoints = ready
    try:
        found = await endpoints.rotate(tenant, request.path_params["id"])
    except StorageUnavailableError:
        return storage_unavailable()
    if found is None:
        return _not_found()
    endpoint, secret = found
    log_event(log, "webhook.secret_rotated", endpoint=endpoint.id)
    return json_response({**endpoint_body(endpoint), "secret": secret})


async def test(request: Request) -> Response:
    """POST /api/v1/webhooks/{id}/test: a `webhook.test` event goes out: 202 {webhookId}."""
    ready = await _tenants_endpoints(request)
    if isinstance(ready, Response):
        return ready
    tenant, endpoints = ready
    try:
        webhook_id = await endpoints.test(tenant, request.path_params["id"])
    except StorageUnavailableError:
        return storage_unavailable()
    if webhook_id is None:
        return _not_found()
    return json_response({"webhookId": webhook_id}, 202)


async def attempts(request: Request) -> Response:
    """GET /api/v1/webhooks/{id}/attempts?limit=&before=: newest first, with the cursor of
    the next page (null on the last)."""
    ready = await _tenants_endpoints(request)
    if isinstance(ready, Response):
        return ready
    tenant, endpoints = ready
    query = _page(request.query_params.get("limit"), request.query_params.get("before"))
    if isinstance(query, Response):
        return query
    limit, before = query
    try:
        found = await endpoints.attempts(tenant, request.path_params["id"], limit, before)
    except StorageUnavailableError:
        return storage_unavailable()
    if found is None:
        return _not_found()
    following = found[-1].id if len(found) == limit else None
    return json_response({"data": [attempt_body(a) for a in found], "nextCursor": following})


async def replay(request: Request) -> Response:
    """POST /api/v1/webhooks/{id}/replay {since, until, failed_only, webhook_id}: the
    endpoint's messages of that range (or the one of that webhook-id; or only the failed
    ones) go out again under their webhook-id: 202 {replayed}."""
    ready = await _tenants_endpoints(request)
    if isinstance(ready, Response):
        return ready
    tenant, endpoints = ready
    data = await _object_body(request, _REPLAY)
    if isinstance(data, Response):
        return data
    window = _replay_window(data, request.app.state.container.now())
    if isinstance(window, Response):
        return window
    since, until, failed_only, webhook_id = window
    try:
        count = await endpoints.replay(
            tenant, request.path_params["id"], since, until, failed_only, webhook_id
        )
    except EndpointError as error:
        return _invalid(str(error))
    except StorageUnavailableError:
        return storage_unavailable()
    if count is None:
        return _not_found()
    log_event(log, "webhook.replayed", endpoint=request.path_params["id"], messages=count)
    return json_response({"replayed": count}, 202)


def endpoint_body(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "types": list(endpoint.types) or None,
        "description": endpoint.description,
        "enabled": endpoint.enabled,
        "disabledReason": endpoint.disabled_reason or None,
        "failingSince": iso(endpoint.failing_since) if endpoint.failing_since else None,
        "createdAt": iso(endpoint.created_at),
        "updatedAt": iso(endpoint.updated_at),
    }


def attempt_body(attempt: Attempt) -> dict[str, Any]:
    return {
        "id": attempt.id,
        "webhookId": attempt.webhook_id,
        "at": iso(attempt.at),
        "status": attempt.status or None,
        "latencyMs": round(attempt.latency * 1000, 1),
        "response": attempt.response,
        "error": attempt.error or None,
    }


async def _object_body(request: Request, allowed: frozenset[str]) -> dict[str, Any] | Response:
    data = await json_body(request, request.app.state.container)
    if isinstance(data, Response):
        return data
    if not isinstance(data, dict):
        return _invalid("the body must be a JSON object")
    unknown = sorted(set(data) - allowed)
    if unknown:
        return _invalid(f"unknown field {unknown[0][:60]!r}; known: {', '.join(sorted(allowed))}")
    return data


def _fields(data: dict[str, Any], required_url: bool) -> Change | Response:
    url = data.get("url")
    if (url is None and required_url) or (url is not None and not isinstance(url, str)):
        return _invalid("url: a string is required")
    if isinstance(url, str) and len(url) > MAX_URL:
        return _invalid(f"url: at most {MAX_URL} characters")
    types = data.get("types")
    if types is not None and not (
        isinstance(types, list) and all(isinstance(t, str) for t in types)
    ):
        return _invalid("types: a list of event type names, or omitted for every type")
    if types is not None and len(types) > MAX_TYPES:
        return _invalid(f"types: at most {MAX_TYPES}")
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        return _invalid("description: a string")
    enabled = data.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        return _invalid("enabled: true or false")
    # PATCH {"types": null} is every type again, like omitting types at creation.
    patched_types = [] if "types" in data and types is None else types
    return Change(url, patched_types, description, enabled)


def _replay_window(data: dict[str, Any], now: float) -> tuple[float, float, bool, str] | Response:
    since = _time(data.get("since"), 0.0)
    until = _time(data.get("until"), now + 1)
    if since is None or until is None:
        return _invalid("since and until: RFC 3339 date-times with an offset, or omitted")
    failed_only = data.get("failed_only", False)
    if not isinstance(failed_only, bool):
        return _invalid("failed_only: true or false")
    webhook_id = data.get("webhook_id", "")
    if not isinstance(webhook_id, str) or len(webhook_id) > 100:
        return _invalid("webhook_id: a webhook-id this endpoint was sent")
    return since, until, failed_only, webhook_id


def _time(value: Any, default: float) -> float | None:
    if value is None:
        return default
    return rfc3339_seconds(value) if isinstance(value, str) else None


def _page(limit_text: str | None, before_text: str | None) -> tuple[int, int] | Response:
    text = limit_text or str(DEFAULT_ATTEMPTS)
    limit = int(text) if text.isascii() and text.isdigit() else 0
    if not 1 <= limit <= MAX_ATTEMPTS:
        return _invalid(f"limit: a whole number from 1 to {MAX_ATTEMPTS}")
    before = before_text or "0"
    if not (before.isascii() and before.isdigit() and len(before) <= 19):
        return _invalid("before: a cursor this list gave")
    return limit, int(before)


def _invalid(detail: str) -> Response:
    return error_response(400, "Invalid request", detail)


def _not_found() -> Response:
    return error_response(404, "Not found", "No webhook endpoint with this id.")
