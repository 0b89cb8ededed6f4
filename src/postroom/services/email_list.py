"""A tenant's emails, a page at a time, narrowed by state, tag, time or recipient (GET
/api/v1/email, `postroom emails list`).

A recipient is looked up by its keyed hash (services/addresses.py), as the suppression list
looks addresses up: the store holds no address to search. The cursor is opaque to clients: the
position of the page's last email, encoded.
"""

import base64
import binascii
import json
from dataclasses import dataclass

from postroom.domain.ids import is_id
from postroom.domain.states import State
from postroom.ports.emails import EmailFilter, EmailStore, EmailSummary, Position
from postroom.services.addresses import AddressKeys

MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class EmailQuery:
    """What a client asks for; None: any."""

    state: State | None = None
    tag: str | None = None
    after: float | None = None  # created at or after
    before: float | None = None  # created before
    to: str | None = None  # a recipient's address (to, cc or bcc), in any letter case


class EmailList:
    def __init__(self, store: EmailStore, keys: AddressKeys) -> None:
        self._store = store
        self._keys = keys

    async def page(
        self, tenant: str, query: EmailQuery, cursor: str, limit: int
    ) -> tuple[list[EmailSummary], str | None]:
        """Up to `limit` (at most MAX_PAGE) emails newest first from `cursor` ("" for the
        first page), and the cursor of the next page (None on the last). ValueError for a
        cursor this list did not give."""
        limit = min(limit, MAX_PAGE)
        key = self._keys.key(query.to) if query.to is not None else None
        tag = self._keys.tag_key(query.tag) if query.tag is not None else None
        filters = EmailFilter(query.state, tag, query.after, query.before, key)
        found = await self._store.page(tenant, filters, decode_cursor(cursor), limit + 1)
        if len(found) <= limit:
            return found, None
        last = found[limit - 1]
        return found[:limit], encode_cursor((last.created_at, last.id))


def encode_cursor(position: Position) -> str:
    text = json.dumps([position[0], position[1]], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position | None:
    """The position a cursor names; None for ""; ValueError for anything else."""
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, email_id = json.loads(text)
    except (binascii.Error, ValueError, TypeError) as error:
        raise ValueError("not a cursor this list gave") from error
    if type(at) not in (int, float) or not isinstance(email_id, str) or not is_id(email_id):
        raise ValueError("not a cursor this list gave")
    return float(at), email_id
