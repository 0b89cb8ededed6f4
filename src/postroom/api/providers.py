"""/api/v1/providers: the configured providers with their circuit, their last hour and whether
an operator paused them; pausing and resuming one (docs/api.md). The `admin` scope: a pause
drains a provider for every tenant.

The same parts as the dashboard's providers section (dashboard/parts.py) and the same actions
as `postroom providers pause|resume`: a pause is kept in the store, so every worker on it
stops sending through the provider within about a second.
"""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from postroom.api.container import Container
from postroom.api.emails import caller
from postroom.api.responses import error_response, json_response, storage_unavailable
from postroom.dashboard import DashboardParts, views
from postroom.domain.errors import StorageUnavailableError
from postroom.domain.keys import ADMIN
from postroom.logs import get_logger, log_event
from postroom.services.pauses import PauseError

log = get_logger("api")

# What each row of the list carries, by its name in the dashboard's JSON (dashboard/views.py).
_FIELDS = {
    "name": "name",
    "circuit": "state",
    "failures": "failures",
    "until": "until",
    "paused": "paused",
    "pausedAt": "pausedAt",
    "attempts": "attempts",
    "successRate": "successRate",
    "p50Ms": "p50Ms",
    "p99Ms": "p99Ms",
}


async def _parts(request: Request) -> DashboardParts | Response:
    """The providers' parts, or the 401, 403 or 404 to answer; the key is checked first."""
    refused = await caller(request, ADMIN)
    if isinstance(refused, Response):
        return refused
    container: Container = request.app.state.container
    if container.dashboard is None:
        return error_response(404, "Not found", "Providers are not listed by this process.")
    return container.dashboard


async def listing(request: Request) -> Response:
    """GET /api/v1/providers: every configured provider, and any other one called in the last
    hour or still paused, in the dashboard's order."""
    parts = await _parts(request)
    if isinstance(parts, Response):
        return parts
    try:
        shown = await _providers(parts)
    except StorageUnavailableError:
        return storage_unavailable()
    rows = [_row(row, parts.providers) for row in shown["providers"]]
    return json_response({"data": rows, "circuits": shown["source"], "pauses": shown["pauses"]})


async def _providers(parts: DashboardParts) -> dict[str, Any]:
    since = views.hour_start(parts.now())
    attempts = await parts.activity.attempts(since) if parts.activity is not None else []
    paused = await parts.paused() if parts.paused is not None else None
    return views.circuits_json(await parts.circuits(), attempts, paused, parts.providers)


def _row(row: dict[str, Any], configured: list[str]) -> dict[str, Any]:
    return {
        **{field: row[source] for field, source in _FIELDS.items()},
        "configured": row["name"] in configured,
    }


async def pause(request: Request) -> Response:
    """POST /api/v1/providers/{name}/pause: no worker on this store sends through it until it
    is resumed; `paused` false when it was paused already. A provider that is not configured
    is 404."""
    return await _act(request, "paused", lambda parts: parts.pause)


async def resume(request: Request) -> Response:
    """POST /api/v1/providers/{name}/resume: workers send through it again (its circuit
    allowing); `resumed` false when it was not paused. 404 for a name neither configured nor
    paused (a pause left by an older configuration can be lifted)."""
    return await _act(request, "resumed", _resume)


def _resume(parts: DashboardParts) -> Callable[[str], Awaitable[bool]] | None:
    act, paused = parts.resume, parts.paused
    if act is None or paused is None:
        return None

    async def known(name: str) -> bool:
        if name not in parts.providers and name not in await paused():
            raise PauseError(f"no provider named {name!r} is configured or paused")
        return await act(name)

    return known


async def _act(
    request: Request,
    done: str,
    action: Callable[[DashboardParts], Callable[[str], Awaitable[bool]] | None],
) -> Response:
    parts = await _parts(request)
    if isinstance(parts, Response):
        return parts
    act = action(parts)
    if act is None:
        return error_response(404, "Not found", "This store keeps no provider pauses.")
    name = request.path_params["name"]
    try:
        changed = await act(name)
    except PauseError as refused:
        return error_response(404, "Not found", f"{refused}.", {"name": "not a provider"})
    except StorageUnavailableError:
        return storage_unavailable()
    log_event(log, f"api.provider_{done}", logging.INFO, provider=name, changed=changed)
    return json_response({"provider": name, done: changed})
