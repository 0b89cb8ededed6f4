"""Rules both validation passes share: reserved headers, name and text patterns, the
Submission they produce and how sendAt is read."""

import re
from dataclasses import dataclass
from typing import Any

from postroom.domain.message import Email, Limits

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
    )
)

# RFC 5322 field name: printable ASCII except colon.
HEADER_NAME = re.compile(r"[!-9;-~]{1,76}")
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # controls, tab allowed


@dataclass(frozen=True, slots=True)
class Submission:
    email: Email
    # None: send now. Otherwise the time asked for, already known to be in the future.
    send_at: float | None


def schedule(value: Any, now: float, limits: Limits) -> tuple[float | None, str]:
    """(send time, "") for a sendAt value, None meaning now; (None, reason) when invalid."""
    if value is None:
        return None, ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, "must be a Unix time in seconds"
    if value > now + limits.max_schedule_seconds:
        return None, f"must be at most {limits.max_schedule_seconds // 86400} days ahead"
    # A time in the past means "now", as the origin API did.
    return (float(value) if value > now else None), ""
