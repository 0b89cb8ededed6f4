"""The inbox's routes: pages for a browser, JSON for tests, the HTML part in a sandbox.

Pages need a session (a redirect to the login page otherwise); JSON answers 401. Every answer
is `no-store`, and every page loads only this package's own script and styles.
"""

import asyncio
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from postroom.inbox import pages
from postroom.inbox.access import inbox_access
from postroom.inbox.messages import Caught, OutboxFolder, Summary
from postroom.logs import get_logger, log_event
from postroom.web.access import Access, Authenticate, Caller, caller_or_refusal, same_origin
from postroom.web.login import Login, posted_here
from postroom.web.responses import SAFE as _SAFE
from postroom.web.responses import error as _error
from postroom.web.sessions import Sessions

log = get_logger("inbox")

# The HTML part's policy: nothing but inline styles and images inside the email, no scripts,
# no forms, a sandbox even when the route is opened on its own. "Load remote images" adds
# https: to img-src (plain http: images stay blocked).
FRAME_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data: cid:{remote}; sandbox; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
# A page's own forms must carry its Origin (no-referrer makes chromium send "null"); links
# from a page still tell no other site where they came from.
_PAGE = {
    **_SAFE,
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": pages.PAGE_CSP,
    "X-Frame-Options": "DENY",
}
_STATIC = {"inbox.js": "text/javascript; charset=utf-8", "inbox.css": "text/css; charset=utf-8"}


def inbox_routes(
    folder: Path, authenticate: Authenticate | None, sessions: Sessions
) -> list[Route]:
    """The /inbox routes over the outbox folder; `authenticate` None: no login needed."""
    inbox = Inbox(OutboxFolder(folder), inbox_access(authenticate, sessions))
    return [
        Route("/inbox", inbox.list_page, methods=["GET"]),
        Route("/inbox/login", inbox.login, methods=["GET", "POST"]),
        Route("/inbox/logout", inbox.logout, methods=["POST"]),
        Route("/inbox/delete", inbox.delete_form, methods=["POST"]),
        Route("/inbox/static/{name}", static, methods=["GET"]),
        Route("/inbox/api/messages", inbox.api_list_or_delete, methods=["GET", "DELETE"]),
        Route("/inbox/api/messages/{id}", inbox.api_one, methods=["GET"]),
        Route("/inbox/{id}", inbox.email_page, methods=["GET"]),
        Route("/inbox/{id}/html", inbox.html_part, methods=["GET"]),
        Route("/inbox/{id}/raw", inbox.raw, methods=["GET"]),
        Route("/inbox/{id}/attachments/{index:int}", inbox.attachment, methods=["GET"]),
    ]


class Inbox:
    def __init__(self, folder: OutboxFolder, access: Access) -> None:
        self.folder = folder
        self.access = access
        self._login = Login(access, "/inbox", pages.login_page, _PAGE, log, "inbox")

    async def _caller(self, request: Request) -> Caller | Response:
        return await caller_or_refusal(self.access, request, "/inbox", "an admin key")

    async def list_page(self, request: Request) -> Response:
        caller = await self._caller(request)
        if isinstance(caller, Response):
            return caller
        summaries, total = await asyncio.to_thread(self.folder.summaries)
        logged_in = caller.session_id is not None
        return HTMLResponse(pages.list_page(summaries, total, caller.csrf, logged_in), 200, _PAGE)

    async def email_page(self, request: Request) -> Response:
        caller = await self._caller(request)
        if isinstance(caller, Response):
            return caller
        caught = await asyncio.to_thread(self.folder.one, request.path_params["id"])
        if caught is None:
            return _not_found()
        remote = request.query_params.get("images") == "remote"
        page = pages.email_page(caught, caller.csrf, caller.session_id is not None, remote)
        return HTMLResponse(page, 200, _PAGE)

    async def html_part(self, request: Request) -> Response:
        caller = await self._caller(request)
        if isinstance(caller, Response):
            return caller
        caught = await asyncio.to_thread(self.folder.one, request.path_params["id"])
        if caught is None or caught.html is None:
            return _not_found()
        remote = " https:" if request.query_params.get("images") == "remote" else ""
        headers = {**_SAFE, "Content-Security-Policy": FRAME_CSP.format(remote=remote)}
        return HTMLResponse(caught.html, 200, headers)

    async def raw(self, request: Request) -> Response:
        caller = await self._caller(request)
        if isinstance(caller, Response):
            return caller
        email_id = request.path_params["id"]
        data = await asyncio.to_thread(self.folder.raw, email_id)
        if data is None:
            return _not_found()
        return _download(data, "message/rfc822", f"{email_id}.eml")

    async def attachment(self, request: Request) -> Response:
        caller = await self._caller(request)
        if isinstance(caller, Response):
            return caller
        found = await asyncio.to_thread(
            self.folder.attachment, request.path_params["id"], request.path_params["index"]
        )
        if found is None:
            return _not_found()
        return _download(found.data, found.content_type, found.filename)

    async def api_list_or_delete(self, request: Request) -> Response:
        caller = await self._caller(request)
        if isinstance(caller, Response):
            return caller
        if request.method == "DELETE":
            # A cookie rides along with any request the browser makes: only our own pages
            # may delete with one (a DELETE from elsewhere is also stopped by CORS preflight).
            if not same_origin(request):
                return _error(403, "Forbidden", "Delete from the inbox page or with a key.")
            deleted = await self._delete()
            return JSONResponse({"deleted": deleted}, 200, _SAFE)
        summaries, total = await asyncio.to_thread(self.folder.summaries)
        body = {"messages": [summary_json(s) for s in summaries], "total": total}
        return JSONResponse(body, 200, _SAFE)

    async def api_one(self, request: Request) -> Response:
        caller = await self._caller(request)
        if isinstance(caller, Response):
            return caller
        caught = await asyncio.to_thread(self.folder.one, request.path_params["id"])
        if caught is None:
            return _not_found()
        return JSONResponse(caught_json(caught), 200, _SAFE)

    async def delete_form(self, request: Request) -> Response:
        caller = await self._caller(request)
        if isinstance(caller, Response):
            return caller
        if not await posted_here(request, caller):
            return _error(403, "Forbidden", "Delete from the inbox page.")
        await self._delete()
        return RedirectResponse("/inbox", 303, headers=_SAFE)

    async def _delete(self) -> int:
        deleted = await asyncio.to_thread(self.folder.delete_all)
        log_event(log, "inbox.deleted", emails=deleted)
        return deleted

    async def login(self, request: Request) -> Response:
        return await self._login.login(request)

    async def logout(self, request: Request) -> Response:
        caller = await self._caller(request)
        if isinstance(caller, Response):
            return caller
        return await self._login.logout(request, caller)


async def static(request: Request) -> Response:
    """The pages' script and styles, from the package (no CDN, no build step)."""
    name = request.path_params["name"]
    if name not in _STATIC:
        return _not_found()
    data = (resources.files("postroom.inbox") / "static" / name).read_bytes()
    headers = {**_SAFE, "Cache-Control": "no-cache"}
    return Response(data, 200, headers, _STATIC[name])


def _download(data: bytes, content_type: str, filename: str) -> Response:
    # An ASCII name for old clients, the exact one as RFC 6266's filename*.
    fallback = filename.encode("ascii", "replace").decode().replace("?", "_")
    disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
    headers = {
        **_SAFE,
        "Content-Disposition": disposition,
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    return Response(data, 200, headers, content_type)


def summary_json(summary: Summary) -> dict[str, Any]:
    return {
        "id": summary.id,
        "from": summary.sender,
        "to": summary.to,
        "cc": summary.cc,
        "subject": summary.subject,
        "date": summary.date,
        "size": summary.size,
        "attachments": [
            {
                "index": a.index,
                "filename": a.filename,
                "contentType": a.content_type,
                "size": a.size,
                "contentId": a.content_id or None,
            }
            for a in summary.attachments
        ],
    }


def caught_json(caught: Caught) -> dict[str, Any]:
    return {
        **summary_json(caught.summary),
        "text": caught.text,
        "html": caught.html,
        "headers": [{"name": name, "value": value} for name, value in caught.headers],
        "envelope": caught.envelope,
    }


def _not_found() -> Response:
    return _error(404, "Not found", "No such email in the outbox.")
