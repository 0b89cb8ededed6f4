"""Who may open a page of the service: a browser session (cookie) or an `Authorization: Bearer`
key, and which keys may (`may`, decided by each set of pages: the inbox, the dashboard).

State changes (log in, log out, every POST of a page) also pass `same_origin`, and the pages'
forms and scripts carry a per-session token, so another site cannot make a logged-in browser act.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from postroom.domain.errors import StorageUnavailableError
from postroom.domain.keys import DEFAULT_TENANT
from postroom.logs import get_logger, log_event
from postroom.ports.keys import ApiKey
from postroom.web.responses import SAFE, error
from postroom.web.sessions import Sessions

log = get_logger("web")

Authenticate = Callable[[str | None], Awaitable[ApiKey | None]]
May = Callable[[ApiKey], bool]


@dataclass(frozen=True, slots=True)
class Caller:
    csrf: str  # the token the pages' forms carry ("" for a Bearer caller, who has no forms)
    session_id: str | None = None
    tenant: str = DEFAULT_TENANT  # the key's (DEFAULT_TENANT when the server runs without keys)


class Access:
    """One set of pages' callers: its cookie, its sessions and the keys it lets in."""

    def __init__(
        self, authenticate: Authenticate | None, sessions: Sessions, may: May, cookie: str
    ) -> None:
        self._authenticate = authenticate
        self._may = may
        self.sessions = sessions
        self.cookie = cookie

    @property
    def required(self) -> bool:
        """False when the server runs without keys (POSTROOM_INSECURE_NO_AUTH)."""
        return self._authenticate is not None

    async def caller(self, request: Request) -> Caller | None:
        """Who is asking, or None: no session, an expired one, or a key that may not.
        Raises StorageUnavailableError when keys cannot be read."""
        if self._authenticate is None:
            return Caller(self.sessions.anonymous_csrf)
        header = request.headers.get("authorization")
        if header:
            key = await self._allowed(header)
            return Caller("", tenant=key.tenant) if key is not None else None
        session_id = request.cookies.get(self.cookie)
        session = await self.sessions.get(session_id)
        if session is None:
            return None
        if not self._may(session.key):
            await self.sessions.close(session_id)  # the key no longer may
            return None
        return Caller(session.csrf, session_id, session.key.tenant)

    async def key_may(self, header: str) -> ApiKey | None:
        """The valid key the header carries, if it may use these pages; else None."""
        return await self._allowed(header)

    async def _allowed(self, header: str) -> ApiKey | None:
        assert self._authenticate is not None
        key = await self._authenticate(header)
        return key if key is not None and self._may(key) else None


async def caller_or_refusal(
    access: Access, request: Request, base: str, which: str
) -> Caller | Response:
    """The caller of one of the pages under `base` ("/inbox"), or the answer for one who may
    not: 503 when keys cannot be read; 401 JSON under `base`/api/, else a redirect to the
    login page. `which` names the keys that may ("an admin key")."""
    try:
        caller = await access.caller(request)
    except StorageUnavailableError:
        return error(503, "Storage unavailable", "API keys cannot be read; retry later.")
    if caller is not None:
        return caller
    log_event(log, f"{base.strip('/')}.refused", status=401)
    if request.url.path.startswith(f"{base}/api/"):
        hint = f"Log in at {base}/login or send {which} as Authorization: Bearer KEY."
        return error(401, "Unauthorized", hint, {"WWW-Authenticate": "Bearer"})
    return RedirectResponse(f"{base}/login", 303, headers=SAFE)


def same_origin(request: Request) -> bool:
    """The request comes from one of our own pages, or from no browser page at all (curl):
    Sec-Fetch-Site, where the browser sends it, and Origin must both say so."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"
