"""Who may open the inbox: the keys `may_use_inbox` accepts, through a browser session or an
`Authorization: Bearer` key (postroom.web.access holds the sessions and the same-origin check
the inbox shares with the dashboard).

The inbox shows whole emails, so it is for keys trusted with content.
"""

from postroom.domain.keys import ADMIN, allows
from postroom.ports.keys import ApiKey
from postroom.web.access import Access, Authenticate
from postroom.web.sessions import Sessions

COOKIE = "postroom_inbox"


def may_use_inbox(key: ApiKey) -> bool:
    """Whether `key` may read caught emails (their content, by design): admin keys only."""
    return allows(key.scopes, ADMIN)


def inbox_access(authenticate: Authenticate | None, sessions: Sessions) -> Access:
    """The inbox's callers: its own cookie and sessions, the keys `may_use_inbox` accepts."""
    return Access(authenticate, sessions, may_use_inbox, COOKIE)
