"""Email ids: UUIDv7 (RFC 9562), so ids sort by creation time and index well."""

import re

_ID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def new_id(now_ms: int, rand: bytes) -> str:
    """A UUIDv7 from a millisecond timestamp and 10 random bytes (the caller supplies both)."""
    if len(rand) < 10:
        raise ValueError("a UUIDv7 needs 10 random bytes")
    tail = int.from_bytes(rand[:10], "big")
    rand_a = (tail >> 68) & 0xFFF
    rand_b = tail & ((1 << 62) - 1)
    value = (now_ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def is_id(text: str) -> bool:
    """True for a string shaped like an id this service issues."""
    return _ID_PATTERN.match(text) is not None


def message_id_header(email_id: str, domain: str) -> str:
    """The deterministic Message-ID for an email: the same id always gives the same header."""
    return f"<{email_id}@{domain}>"
