"""Stored content as a whole: for checking the configured keys and re-encrypting under a new one,
and read in bulk where many emails' content is needed at once (webhook payloads)."""

from collections.abc import Callable, Sequence
from typing import Protocol

# Given stored bytes and the email id, the bytes to store instead, or None to leave them.
Reseal = Callable[[bytes, bytes], bytes | None]
# The same for text fields (event reasons).
ResealText = Callable[[str, bytes], str | None]


class SealedContent(Protocol):
    async def sample_payload(self) -> tuple[str, bytes] | None:
        """The newest stored email's id and payload, or None when there is none."""
        ...

    async def payloads(self, email_ids: Sequence[str]) -> dict[str, bytes]:
        """The stored payloads of those emails, in one read, by id; an email unknown or whose
        content was purged is left out."""
        ...

    async def reseal_page(
        self, after: str, limit: int, payload: Reseal, reason: ResealText
    ) -> tuple[int, str | None]:
        """Rewrite the payloads and event reasons of up to `limit` emails with ids above `after`,
        in one transaction; (how many values changed, the last id seen or None when done)."""
        ...

    async def purge_content(self, before: float) -> int:
        """Drop the content (payload and event reasons) of emails that reached a final state
        before `before`, keeping ids, states, timestamps and provider ids; and forget expired
        idempotency keys. Returns how many emails were purged."""
        ...

    async def count_emails(self) -> int:
        """How many emails are stored (for progress)."""
        ...
