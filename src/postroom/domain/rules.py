"""Rules both validation passes share: reserved headers, name and text patterns, the
Submission they produce and how sendAt is read."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from postroom.domain.message import Email, Limits
from postroom.domain.values import quick_init

# Headers the service builds itself, or that only the envelope may set.
RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        "From",
        "To",
        "Cc",
        "Bcc",
        "Subject",
        "Reply-To",
        "Sender",
        "Date",
        "Message-ID",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Content-Disposition",
        "Content-ID",
        "Return-Path",
        "Received",
        "DKIM-Signature",
        "Resent-From",
        "Resent-To",
        "Resent-Cc",
        "Resent-Bcc",
        "Resent-Date",
        "Resent-Sender",
        "Resent-Message-ID",
        "X-Postroom-Id",
    )
)
# Postroom's own id travels with every send under these names (a provider's custom data, or a
# header for SMTP), so that provider events can be matched back; a request may not use them.
CORRELATION_KEY = "postroom_id"
CORRELATION_HEADER = "X-Postroom-Id"

# RFC 5322 field name: printable ASCII except colon.
HEADER_NAME = re.compile(r"[!-9;-~]{1,76}")
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # controls, tab allowed


def counted(number: int, noun: str, plural: str = "") -> str:
    """ "1 day", "30 days": error messages name limits that a deployment may set to one."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


@quick_init
@dataclass(frozen=True, slots=True)
class Submission:
    email: Email
    # None: send now. Otherwise the time asked for, already known to be in the future.
    send_at: float | None


# RFC 3339 date-time with an explicit offset; a time without one would be read in some zone.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})"
)
# Unix seconds reach 10^11 in the year 5138; a value this large is milliseconds sent by mistake.
MILLISECONDS_FROM = 10**11


def schedule(value: Any, now: float, limits: Limits) -> tuple[float | None, str]:
    """(send time, "") for a sendAt value, None meaning now; (None, reason) when invalid.

    sendAt is Unix seconds (a number) or an RFC 3339 date-time string with an offset."""
    if value is None:
        return None, ""
    if type(value) is str:
        seconds = rfc3339_seconds(value)
        if seconds is None:
            return None, "must be Unix seconds or an RFC 3339 date-time like 2026-12-01T10:00:00Z"
        value = seconds
    elif isinstance(value, bool) or not isinstance(value, int | float):
        return None, "must be Unix seconds or an RFC 3339 date-time string"
    elif MILLISECONDS_FROM <= value < MILLISECONDS_FROM * 1000:
        return None, "looks like milliseconds; send Unix seconds (milliseconds / 1000)"
    if value > now + limits.max_schedule_seconds:
        return None, f"must be at most {counted(limits.max_schedule_seconds // 86400, 'day')} ahead"
    # A time in the past means "now", as the origin API did.
    return (float(value) if value > now else None), ""


@lru_cache(maxsize=4096)
def rfc3339(at: float) -> str:
    """Unix seconds as RFC 3339 in UTC with milliseconds (`2026-11-28T18:46:45.813Z`): every
    time an answer, a webhook or a page gives. Cached: a webhook's payload gives its event's
    time twice, and formatting shows in a profile of webhooks out."""
    moment = datetime.fromtimestamp(at, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rfc3339_seconds(text: str) -> float | None:
    """Unix seconds of an RFC 3339 date-time with an offset; None when it is not one."""
    if not _RFC3339.fullmatch(text):
        return None
    try:
        moment = datetime.fromisoformat(text.upper().replace(" ", "T").replace("Z", "+00:00"))
    except ValueError:  # month 13, hour 25, ...
        return None
    return moment.timestamp()
