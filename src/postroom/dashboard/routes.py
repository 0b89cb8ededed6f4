"""The dashboard's routes: one page, its script and styles, and the JSON it polls and posts.

The page needs a session (a redirect to the login page otherwise); /dashboard/api answers 401.
Every POST must come from our own page (`same_origin`) and carry the session's token in an
`X-CSRF-Token` header; a caller with a Bearer key (no cookie, no page) needs no token. Every
answer is `no-store`. Addresses typed into the suppression and email searches travel in POST
bodies, never in a URL, and no log line carries one.
"""

import json
import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from postroom.dashboard import emails, pages, redrive, views
from postroom.dashboard.parts import DashboardParts
from postroom.domain.address import AddressError
from postroom.domain.errors import StorageUnavailableError
from postroom.domain.keys import ADMIN, allows
from postroom.logs import get_logger, log_event
from postroom.ports.activity import Activity, ProviderAttempts
from postroom.ports.keys import ApiKey
from postroom.services.pauses import PauseError
from postroom.services.suppressions import NewSuppression, SuppressionList
from postroom.web.access import Access, Authenticate, Caller, caller_or_refusal, same_origin
from postroom.web.login import Login
from postroom.web.responses import SAFE, error
from postroom.web.sessions import Sessions, same_token

log = get_logger("dashboard")

COOKIE = "postroom_dashboard"
_PAGE = {
    **SAFE,
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": pages.PAGE_CSP,
    "X-Frame-Options": "DENY",
}
_STATIC = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
MAX_JSON_BYTES = 8192
DEAD_SHOWN = 50
ATTEMPTS_SHOWN = 5
REPLAY_SECONDS = 24 * 3600.0  # "replay failed" resends the last day's failed messages


def may_use_dashboard(key: ApiKey) -> bool:
    """Only admin keys: the dashboard redrives, suppresses and replays for the whole service."""
    return allows(key.scopes, ADMIN)


def dashboard_routes(
    parts: DashboardParts, authenticate: Authenticate | None, sessions: Sessions
) -> list[Route]:
    """The /dashboard routes; `authenticate` None: no login needed (POSTROOM_INSECURE_NO_AUTH)."""
    board = Dashboard(parts, Access(authenticate, sessions, may_use_dashboard, COOKIE))
    return [
        Route("/dashboard", board.page, methods=["GET"]),
        Route("/dashboard/login", board.login.login, methods=["GET", "POST"]),
        Route("/dashboard/logout", board.logout, methods=["POST"]),
        Route("/dashboard/static/{name}", static, methods=["GET"]),
        Route("/dashboard/api/overview", board.overview, methods=["GET"]),
        Route("/dashboard/api/throughput", board.throughput, methods=["GET"]),
        Route("/dashboard/api/dead", board.dead, methods=["GET"]),
        Route("/dashboard/api/dead/redrive", board.redrive, methods=["POST"]),
        Route("/dashboard/api/suppressions/search", board.search, methods=["POST"]),
        Route("/dashboard/api/suppressions/add", board.suppress, methods=["POST"]),
        Route("/dashboard/api/suppressions/remove", board.unsuppress, methods=["POST"]),
        Route("/dashboard/api/providers/pause", board.pause, methods=["POST"]),
        Route("/dashboard/api/providers/resume", board.resume, methods=["POST"]),
        Route("/dashboard/api/webhooks", board.webhooks, methods=["GET"]),
        Route("/dashboard/api/emails/search", board.search_emails, methods=["POST"]),
        Route("/dashboard/api/emails/{id}", board.email, methods=["GET"]),
        Route("/dashboard/api/webhooks/{id}/test", board.test_webhook, methods=["POST"]),
        Route("/dashboard/api/webhooks/{id}/replay", board.replay_webhook, methods=["POST"]),
    ]


class Dashboard:
    def __init__(self, parts: DashboardParts, access: Access) -> None:
        self.parts = parts
        self.access = access
        self.login = Login(access, "/dashboard", pages.login_page, _PAGE, log, "dashboard")

    async def _caller(self, request: Request) -> Caller | Response:
        return await caller_or_refusal(self.access, request, "/dashboard", "an admin key")

    async def _posted(self, request: Request) -> tuple[Caller, dict[str, Any]] | Response:
        """The caller of a POST from our own page, and its JSON object body."""
        caller = await self._caller(request)
        if isinstance(caller, Response):
            return caller
        if not _from_our_page(request, caller):
            return error(403, "Forbidden", "Act from the dashboard page.")
        body = await _json_body(request)
        if body is None:
            return error(400, "Bad request", "Send a small JSON object.")
        return caller, body

    async def page(self, request: Request) -> Response:
        caller = await self._caller(request)
        if isinstance(caller, Response):
            return caller
        html = pages.dashboard_page(caller.csrf, caller.session_id is not None)
        return HTMLResponse(html, 200, _PAGE)

    async def logout(self, request: Request) -> Response:
        caller = await self._caller(request)
        if isinstance(caller, Response):
            return caller
        return await self.login.logout(request, caller)

    async def overview(self, request: Request) -> Response:
        caller = await self._caller(request)
        if isinstance(caller, Response):
            return caller
        parts = self.parts
        try:
            stats = await parts.stats()
            hour, day, attempts = await self._activity()
            circuits = await parts.circuits()
            paused = await parts.paused() if parts.paused is not None else None
        except StorageUnavailableError:
            return _unavailable()
        body = {
            "queue": views.queue_json(stats),
            "activity": views.activity_json(hour),
            "day": views.activity_json(day),
            "circuits": views.circuits_json(circuits, attempts, paused, parts.providers),
        }
        return JSONResponse(body, 200, SAFE)

    async def _activity(self) -> tuple[Activity | None, Activity | None, list[ProviderAttempts]]:
        """The last hour's counts per minute, the last day's per hour (the day tiles and the
        day chart), and the hour's provider calls; None and [] when the store counts none."""
        counted = self.parts.activity
        if counted is None:
            return None, None, []
        now = self.parts.now()
        since = views.hour_start(now)
        hour = await counted.activity(since, views.BUCKETS, views.BUCKET_SECONDS)
        buckets, width = views.RANGES["day"]
        day = await counted.activity(views.range_start(now, buckets, width), buckets, width)
        return hour, day, await counted.attempts(since)

    async def throughput(self, request: Request) -> Response:
        """?range=hour (per minute) or day (per hour): the chart's series, the current bucket
        last."""
        caller = await self._caller(request)
        if isinstance(caller, Response):
            return caller
        span = request.query_params.get("range", "hour")
        if span not in views.RANGES:
            return error(400, "Bad request", f"The range is one of {', '.join(views.RANGES)}.")
        if self.parts.activity is None:
            return error(404, "Not found", "This store counts no activity.")
        buckets, width = views.RANGES[span]
        since = views.range_start(self.parts.now(), buckets, width)
        try:
            activity = await self.parts.activity.activity(since, buckets, width)
        except StorageUnavailableError:
            return _unavailable()
        return JSONResponse(views.chart_json(span, activity), 200, SAFE)

    async def dead(self, request: Request) -> Response:
        caller = await self._caller(request)
        if isinstance(caller, Response):
            return caller
        try:
            letters = await self.parts.dead.dead(DEAD_SHOWN)
            total = (await self.parts.stats()).dead  # counted by the queue, not paged
        except StorageUnavailableError:
            return _unavailable()
        body = {"deadLetters": [views.dead_json(d) for d in letters], "total": total}
        return JSONResponse(body, 200, SAFE)

    async def redrive(self, request: Request) -> Response:
        """{"ids": [...]} redrives those; {"all": true} every one; {"match": {"provider": NAME,
        "error": CLASS}} those of that provider or error class (redrive.py); with "dryRun": true,
        only how many there are."""
        posted = await self._posted(request)
        if isinstance(posted, Response):
            return posted
        _, body = posted
        if "match" in body:
            return await redrive.redrive_matching(
                self.parts, body["match"], body.get("dryRun") is True
            )
        given = body.get("ids")
        every = body.get("all") is True
        ids = [i for i in given if isinstance(i, str)] if isinstance(given, list) else []
        if not every and (not isinstance(given, list) or len(ids) != len(given)):
            return error(400, "Bad request", 'Send {"ids": [...]} or {"all": true}.')
        try:
            if body.get("dryRun") is True:
                count = await self.parts.count_dead()
                return JSONResponse({"dryRun": True, "count": count}, 200, SAFE)
            done = await (self.parts.redrive_all() if every else self.parts.redrive_ids(ids))
        except StorageUnavailableError:
            return _unavailable()
        log_event(log, "dashboard.redriven", logging.INFO, emails=done)
        return JSONResponse({"redriven": done}, 200, SAFE)

    async def search(self, request: Request) -> Response:
        async def show(lists: SuppressionList, tenant: str, address: str) -> dict[str, Any]:
            entries = await lists.show(tenant, address)
            now = self.parts.now()
            return {"entries": [views.suppression_json(e, now) for e in entries]}

        return await self._on_suppression(request, show)

    async def suppress(self, request: Request) -> Response:
        async def add(lists: SuppressionList, tenant: str, address: str) -> dict[str, Any]:
            added = await lists.add(tenant, [NewSuppression(address)])
            log_event(log, "dashboard.suppressed", logging.INFO, added=added)
            return {"added": added}

        return await self._on_suppression(request, add)

    async def unsuppress(self, request: Request) -> Response:
        async def remove(lists: SuppressionList, tenant: str, address: str) -> dict[str, Any]:
            removed = await lists.remove(tenant, address)
            log_event(log, "dashboard.unsuppressed", logging.INFO, removed=removed)
            return {"removed": removed}

        return await self._on_suppression(request, remove)

    async def _on_suppression(
        self,
        request: Request,
        act: Callable[[SuppressionList, str, str], Awaitable[dict[str, Any]]],
    ) -> Response:
        """`act` on the caller's tenant's list for the address its POST names: its answer."""
        found = await self._suppression_request(request)
        if isinstance(found, Response):
            return found
        assert self.parts.suppressions is not None
        try:
            body = await act(self.parts.suppressions, *found)
        except StorageUnavailableError:
            return _unavailable()
        return JSONResponse(body, 200, SAFE)

    async def _suppression_request(self, request: Request) -> tuple[str, str] | Response:
        """The caller's tenant and the bare address its POST names."""
        posted = await self._posted(request)
        if isinstance(posted, Response):
            return posted
        caller, body = posted
        if self.parts.suppressions is None or self.parts.parse_address is None:
            return error(404, "Not found", "Suppressions are not available with this storage.")
        typed = body.get("address")
        try:
            if not isinstance(typed, str):
                raise AddressError("no address")
            return caller.tenant, self.parts.parse_address(typed.strip())
        except AddressError:
            return error(400, "Bad request", "That is not an email address.")

    async def pause(self, request: Request) -> Response:
        """{"provider": NAME}: no worker on this store sends through it until it is resumed."""
        return await self._pause_or_resume(request, self.parts.pause, "paused")

    async def resume(self, request: Request) -> Response:
        """{"provider": NAME}: workers send through it again (its circuit allowing)."""
        return await self._pause_or_resume(request, self.parts.resume, "resumed")

    async def _pause_or_resume(
        self, request: Request, act: Callable[[str], Awaitable[bool]] | None, done: str
    ) -> Response:
        posted = await self._posted(request)
        if isinstance(posted, Response):
            return posted
        _, body = posted
        name = body.get("provider")
        if act is None:
            return error(404, "Not found", "This store keeps no provider pauses.")
        if not isinstance(name, str) or not name:
            return error(400, "Bad request", 'Send {"provider": NAME}.')
        try:
            changed = await act(name)
        except PauseError as refused:
            return error(404, "Not found", str(refused))
        except StorageUnavailableError:
            return _unavailable()
        log_event(log, f"dashboard.provider_{done}", logging.INFO, provider=name, changed=changed)
        return JSONResponse({"provider": name, done: changed}, 200, SAFE)

    async def search_emails(self, request: Request) -> Response:
        """A POST, though it changes nothing: the recipient typed stays out of every URL."""
        posted = await self._posted(request)
        if isinstance(posted, Response):
            return posted
        caller, body = posted
        return await emails.search(self.parts, caller.tenant, body)

    async def email(self, request: Request) -> Response:
        caller = await self._caller(request)
        if isinstance(caller, Response):
            return caller
        return await emails.detail(self.parts, caller.tenant, request.path_params["id"])

    async def webhooks(self, request: Request) -> Response:
        caller = await self._caller(request)
        if isinstance(caller, Response):
            return caller
        endpoints = self.parts.endpoints
        if endpoints is None:
            return JSONResponse({"available": False, "endpoints": []}, 200, SAFE)
        try:
            listed = []
            for endpoint in await endpoints.every(caller.tenant):
                tried = await endpoints.attempts(caller.tenant, endpoint.id, ATTEMPTS_SHOWN)
                listed.append(views.endpoint_json(endpoint, tried or []))
        except StorageUnavailableError:
            return _unavailable()
        return JSONResponse({"available": True, "endpoints": listed}, 200, SAFE)

    async def test_webhook(self, request: Request) -> Response:
        posted = await self._posted(request)
        if isinstance(posted, Response):
            return posted
        caller, _ = posted
        if self.parts.endpoints is None:
            return _no_endpoint()
        try:
            webhook_id = await self.parts.endpoints.test(caller.tenant, request.path_params["id"])
        except StorageUnavailableError:
            return _unavailable()
        if webhook_id is None:
            return _no_endpoint()
        return JSONResponse({"webhookId": webhook_id}, 200, SAFE)

    async def replay_webhook(self, request: Request) -> Response:
        """The endpoint's failed messages of the last REPLAY_SECONDS, sent again."""
        posted = await self._posted(request)
        if isinstance(posted, Response):
            return posted
        caller, _ = posted
        if self.parts.endpoints is None:
            return _no_endpoint()
        now = self.parts.now()
        try:
            count = await self.parts.endpoints.replay(
                caller.tenant, request.path_params["id"], now - REPLAY_SECONDS, now, True
            )
        except StorageUnavailableError:
            return _unavailable()
        if count is None:
            return _no_endpoint()
        log_event(log, "dashboard.replayed", logging.INFO, messages=count)
        return JSONResponse({"replayed": count}, 200, SAFE)


async def static(request: Request) -> Response:
    """The page's script and styles, from the package (no CDN, no build step)."""
    name = request.path_params["name"]
    if name not in _STATIC:
        return error(404, "Not found", "No such file.")
    data = (resources.files("postroom.dashboard") / "static" / name).read_bytes()
    return Response(data, 200, {**SAFE, "Cache-Control": "no-cache"}, _STATIC[name])


def _from_our_page(request: Request, caller: Caller) -> bool:
    """Same origin, and the session's token; a Bearer caller (csrf "") has no cookie another
    site could ride on, so the origin check alone holds for it."""
    if not same_origin(request):
        return False
    if caller.csrf == "" and request.headers.get("authorization"):
        return True
    return same_token(request.headers.get("x-csrf-token"), caller.csrf)


async def _json_body(request: Request) -> dict[str, Any] | None:
    body = await request.body()
    if len(body) > MAX_JSON_BYTES:
        return None
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _unavailable() -> Response:
    return error(503, "Storage unavailable", "The store cannot be read; retry later.")


def _no_endpoint() -> Response:
    return error(404, "Not found", "No such webhook endpoint.")
