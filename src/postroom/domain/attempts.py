"""What one provider call leaves in an email's history: a short reason that holds no address
and no subject, whatever the provider's text quoted back."""

import re

# Anything shaped like an address: providers quote recipients in refusals ("550 5.1.1 <a@b>
# user unknown"), with or without angle brackets, sometimes with a quoted local part.
_ADDRESS = re.compile(r"""<?(?:"[^"\r\n]*"|[^\s<>()\[\],;:"@]+)@[^\s<>()\[\],;:"'@]+>?""")
_SPACES = re.compile(r"\s+")
# Long enough for "550 5.1.1 user unknown" or SendGrid's "field: message"; short enough that a
# provider echoing the whole request cannot fill the history.
MAX_REASON_CHARS = 200
_MASK = "<address>"


def scrub(text: str, private: tuple[str, ...] = ()) -> str:
    """`text` on one line with every address-like word and each of `private` (the subject,
    display names) replaced, cut to MAX_REASON_CHARS."""
    text = _ADDRESS.sub(_MASK, text)
    for value in sorted((p for p in private if len(p) >= 3), key=len, reverse=True):
        text = text.replace(value, "<redacted>")
    text = _SPACES.sub(" ", text).strip()
    if len(text) <= MAX_REASON_CHARS:
        return text
    return text[: MAX_REASON_CHARS - 1].rstrip() + "…"


def summary(provider: str, outcome: str, code: str) -> str:
    """`mailgun: down http_503`: how a failed attempt is named in a retrying or failed event."""
    return f"{provider}: {outcome} {code}".rstrip()


def nearest_rank(ordered: list[float], share: float) -> float | None:
    """The `share` (0.5 for p50) percentile of `ordered` (ascending) by nearest rank: the
    smallest value with at least that share of the values at or below it, so always one of
    them (what PostgreSQL's percentile_disc gives); None for no values."""
    if not ordered:
        return None
    rank = max(1, -(-round(share * 100) * len(ordered) // 100))  # ceil, in whole percents
    return ordered[rank - 1]
