"""create_app(container): the ASGI application."""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from postroom.api import (
    batch,
    email_list,
    emails,
    endpoints,
    feed,
    openapi,
    providers,
    suppressions,
    templates,
    webhooks,
)
from postroom.api.container import Container
from postroom.api.intake import IntakeRoute
from postroom.api.responses import (
    RETRY_AFTER_SECONDS,
    error_response,
    json_response,
    storage_unavailable,
)
from postroom.dashboard import dashboard_routes
from postroom.domain.errors import StorageFullError, StorageUnavailableError
from postroom.domain.keys import READ
from postroom.inbox import inbox_routes
from postroom.logs import get_logger
from postroom.web.sessions import Sessions

log = get_logger("api")


def create_app(container: Container) -> IntakeRoute:
    """The ASGI app: POST /api/v1/email on its own fast path, the rest on Starlette."""
    routes = [
        Route("/api/v1/email", _list_or_405, methods=["GET", "PUT", "PATCH", "DELETE"]),
        Route("/api/v1/email/batch", batch.submit_batch, methods=["POST"]),
        # One route for both methods, so a 405 here lists both in Allow.
        Route("/api/v1/email/{id}", emails.status_or_cancel, methods=["GET", "DELETE"]),
        Route("/api/v1/suppressions", suppressions.list_or_add, methods=["GET", "POST"]),
        Route(
            "/api/v1/suppressions/{address:path}",
            suppressions.show_or_remove,
            methods=["GET", "DELETE"],
        ),
        Route("/api/v1/templates", templates.list_or_create, methods=["GET", "POST"]),
        Route("/api/v1/templates/{name}", templates.one, methods=["GET", "PUT", "DELETE"]),
        Route("/api/v1/templates/{name}/publish", templates.publish, methods=["POST"]),
        Route("/api/v1/templates/{name}/render", templates.render, methods=["POST"]),
        Route("/api/v1/webhooks", endpoints.list_or_create, methods=["GET", "POST"]),
        Route("/api/v1/webhooks/{id}", endpoints.one, methods=["GET", "PATCH", "DELETE"]),
        Route("/api/v1/webhooks/{id}/test", endpoints.test, methods=["POST"]),
        Route("/api/v1/webhooks/{id}/rotate", endpoints.rotate, methods=["POST"]),
        Route("/api/v1/webhooks/{id}/attempts", endpoints.attempts, methods=["GET"]),
        Route("/api/v1/webhooks/{id}/replay", endpoints.replay, methods=["POST"]),
        Route("/api/v1/events", feed.events, methods=["GET"]),
        Route("/api/v1/providers", providers.listing, methods=["GET"]),
        Route("/api/v1/providers/{name}/pause", providers.pause, methods=["POST"]),
        Route("/api/v1/providers/{name}/resume", providers.resume, methods=["POST"]),
        Route("/webhooks/{kind}", webhooks.receive, methods=["POST"]),
        Route("/webhooks/{kind}/{name}", webhooks.receive, methods=["POST"]),
        Route("/", home, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/openapi.json", openapi_document, methods=["GET"]),
        Route("/docs", docs_page, methods=["GET"]),
        Route("/metrics", metrics_page, methods=["GET"]),
    ]
    if container.inbox_path is not None:  # the dev inbox (docs/inbox.md): outbox only
        inbox_sessions = Sessions(container.sessions, "inbox", container.now, container.note_use)
        routes += inbox_routes(Path(container.inbox_path), container.authenticate, inbox_sessions)
    if container.dashboard is not None:  # the operator dashboard (docs/dashboard.md)
        board_sessions = Sessions(
            container.sessions, "dashboard", container.now, container.note_use
        )
        routes += dashboard_routes(container.dashboard, container.authenticate, board_sessions)
    app = Starlette(
        routes=routes,
        lifespan=_lifespan(container),
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    app.state.container = container
    return IntakeRoute(app, container)


async def home(request: Request) -> Response:
    """The readable API description is the only page there is."""
    return RedirectResponse("/docs", 307)


async def _list_or_405(request: Request) -> Response:
    """GET (and HEAD) lists the tenant's emails; POST is the intake's, in front of this app."""
    if request.method in ("GET", "HEAD"):
        return await email_list.listing(request)
    return error_response(
        405,
        "Method not allowed",
        "POST an email to this route, or GET the list of emails.",
        headers={"Allow": "GET, HEAD, POST"},
    )


def _lifespan(container: Container):  # type: ignore[no-untyped-def]
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for hook in container.on_startup:
            await hook()
        try:
            yield
        finally:
            for hook in container.on_shutdown:
                await hook()

    return lifespan


async def healthz(request: Request) -> Response:
    """The process is alive and serving."""
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Storage answers: this process can accept email. A store at its size cap is 503 with
    `errors.storage` "full": intake is refused while delivery goes on."""
    container: Container = request.app.state.container
    try:
        await container.ping()
    except StorageFullError:
        return _storage_full()
    except StorageUnavailableError:
        return storage_unavailable()
    return json_response({"status": "ready"})


def _storage_full() -> Response:
    return error_response(
        503,
        "Storage full",
        "Storage is at its size cap: new email is refused while queued email is delivered.",
        {"storage": "full"},
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def metrics_page(request: Request) -> Response:
    """Prometheus exposition of this process's metrics and the queue's state (the `read`
    scope: counts and timings only, no addresses, no content)."""
    container: Container = request.app.state.container
    refused = await emails.caller(request, READ)
    if isinstance(refused, Response):
        return refused
    if container.render_metrics is None:
        return error_response(404, "Not found", "Metrics are not enabled.")
    try:
        body = await container.render_metrics()
    except StorageUnavailableError:
        return storage_unavailable()
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


async def openapi_document(request: Request) -> Response:
    return json_response(openapi.document())


async def docs_page(request: Request) -> Response:
    return HTMLResponse(openapi.html_page())


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(404, "Not found", "No such route.")
    if exc.status_code == 405:
        allow = _allow((exc.headers or {}).get("Allow", ""))
        return error_response(
            405,
            "Method not allowed",
            f"This route takes {allow}.",
            headers={"Allow": allow},
        )
    return error_response(exc.status_code, "Request refused", str(exc.detail))


def _allow(methods: str) -> str:
    """Starlette's Allow header in a stable order (it comes from a set)."""
    return ", ".join(sorted(m.strip() for m in methods.split(",") if m.strip()))


async def _server_error(request: Request, exc: Exception) -> Response:
    # Reached only through a bug. The formatter logs the type and place, never the message.
    log.error("http.unhandled_error", exc_info=exc, extra={"fields": {"method": request.method}})
    return error_response(
        500, "Internal error", "Something failed on our side; nothing was accepted."
    )
