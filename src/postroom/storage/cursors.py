"""Page cursors: the sort key of a page's last entry, as an opaque string.

Base64url of a JSON list: safe in a URL's query as it is, and not something a client is
tempted to build by hand. Every engine writes and reads the same form.
"""

import base64
import json


def cursor_of(*parts: str) -> str:
    text = json.dumps(parts, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def parts_of(cursor: str, count: int) -> tuple[str, ...] | None:
    """The `count` parts `cursor_of` wrote; None for "" (the first page); ValueError for a
    cursor no store gave."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True)
        parts = json.loads(raw)
    except ValueError:  # bad base64, bad JSON, not ASCII: all ValueErrors
        raise ValueError("not a cursor of this list") from None
    if not isinstance(parts, list) or len(parts) != count:
        raise ValueError("not a cursor of this list")
    if not all(isinstance(part, str) for part in parts):
        raise ValueError("not a cursor of this list")
    return tuple(parts)
