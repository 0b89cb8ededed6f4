"""Logging in with a key and out again, for any set of pages (the inbox, the dashboard).

The key is posted in a form (never in a URL) and checked; the store keeps a new session that
names the key by id (web/sessions.py), and the browser gets only the session's token, in an
HttpOnly, SameSite=Strict cookie scoped to the pages' path (Secure over HTTPS). Both forms must
come from one of our pages (`same_origin`); logging out also needs the session's form token.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from postroom.domain.errors import StorageUnavailableError
from postroom.logs import log_event
from postroom.web.access import Access, Caller, same_origin
from postroom.web.responses import SAFE, error
from postroom.web.sessions import SESSION_SECONDS, same_token

MAX_FORM_BYTES = 8192
LoginPage = Callable[[str, bool], str]  # (the form's token, whether a key was just refused)


@dataclass(frozen=True, slots=True)
class Login:
    access: Access
    home: str  # the pages' path ("/inbox"): the cookie's path, where a login lands
    page: LoginPage
    page_headers: dict[str, str]
    log: logging.Logger
    name: str  # the log events' prefix ("inbox": inbox.login)

    async def login(self, request: Request) -> Response:
        sessions = self.access.sessions
        if not self.access.required:
            return RedirectResponse(self.home, 303, headers=SAFE)
        if request.method == "GET":
            return HTMLResponse(self.page(sessions.anonymous_csrf, False), 200, self.page_headers)
        form = await read_form(request)
        if form is None or not same_origin(request):
            return error(403, "Forbidden", "Log in from the login page.")
        pasted = form.get("key", "").strip()
        try:
            key = await self.access.key_may(f"Bearer {pasted}") if pasted else None
            session_id = await sessions.open(key) if key is not None else None
        except StorageUnavailableError:
            return error(503, "Storage unavailable", "Keys or sessions cannot be read; retry.")
        if session_id is None:
            log_event(self.log, f"{self.name}.login", logging.INFO, outcome="refused")
            page = self.page(sessions.anonymous_csrf, True)
            return HTMLResponse(page, 401, self.page_headers)
        log_event(self.log, f"{self.name}.login", logging.INFO, outcome="accepted")
        return self._logged_in(request, session_id)

    def _logged_in(self, request: Request, session_id: str) -> Response:
        """To the pages, with the session's token in a cookie only they are sent."""
        response = RedirectResponse(self.home, 303, headers=SAFE)
        response.set_cookie(
            self.access.cookie,
            session_id,
            max_age=SESSION_SECONDS,
            path=self.home,
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response

    async def logout(self, request: Request, caller: Caller) -> Response:
        """For a caller the pages already let in."""
        if not await posted_here(request, caller):
            return error(403, "Forbidden", "Log out from one of the pages.")
        try:
            await self.access.sessions.close(caller.session_id)
        except StorageUnavailableError:
            return error(503, "Storage unavailable", "The session cannot be ended; retry later.")
        response = RedirectResponse(f"{self.home}/login", 303, headers=SAFE)
        response.delete_cookie(self.access.cookie, path=self.home, httponly=True, samesite="strict")
        return response


async def posted_here(request: Request, caller: Caller) -> bool:
    """A form one of our pages posted: same origin, and the caller's token in it."""
    form = await read_form(request)
    return form is not None and same_origin(request) and same_token(form.get("csrf"), caller.csrf)


async def read_form(request: Request) -> dict[str, str] | None:
    """A small urlencoded form, or None (too big, or not a form)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != (
        "application/x-www-form-urlencoded"
    ):
        return None
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return None
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[-1] for name, values in fields.items()}
