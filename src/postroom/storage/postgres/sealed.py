"""Stored content as a whole in PostgreSQL: payloads and event reasons."""

from collections.abc import Sequence
from typing import Any

from postroom.ports.sealed import Reseal, ResealText
from postroom.storage.postgres.connection import PostgresConnection
from postroom.storage.postgres.migrate import LOCK_KEY
from postroom.storage.postgres.options import storage_errors
from postroom.storage.postgres.queries import Row, rows
from postroom.storage.postgres.queue import IDEMPOTENCY_WINDOW


class PostgresSealedContent:
    def __init__(self, connection: PostgresConnection) -> None:
        self._db = connection
        self._clock = connection.clock

    async def sample_payload(self) -> tuple[str, bytes] | None:
        found = await self._db.fetch("newest_payload", {})
        return (found[0][0], bytes(found[0][1])) if found else None

    async def payloads(self, email_ids: Sequence[str]) -> dict[str, bytes]:
        if not email_ids:
            return {}
        found = await self._db.fetch("payloads", {"ids": list(email_ids)})
        return {email_id: bytes(payload) for email_id, payload in found}

    async def count_emails(self) -> int:
        return int((await self._db.fetch("count_emails", {}))[0][0])

    async def purge_content(self, before: float) -> int:
        expired = self._clock.now() - IDEMPOTENCY_WINDOW
        params = {"before": before, "expired": expired, "lock": LOCK_KEY + 1}
        return int((await self._db.fetch("purge_content", params))[0][0])

    async def reseal_page(
        self, after: str, limit: int, payload: Reseal, reason: ResealText
    ) -> tuple[int, str | None]:
        with storage_errors():
            async with (await self._db.pool()).connection() as conn, conn.transaction():
                page = await rows(conn, "reseal_emails", {"after": after, "limit": limit})
                ids = [email_id for email_id, _ in page]
                events = await rows(conn, "reseal_events", {"ids": ids})
                changes = _resealed(page, events, payload, reason)
                await rows(conn, "reseal_write", changes)
        return len(changes["ids"]) + len(changes["seqs"]), (ids[-1] if ids else None)


def _resealed(
    page: list[Row], events: list[Row], payload: Reseal, reason: ResealText
) -> dict[str, list[Any]]:
    """The new payloads and event reasons of a page, as reseal_write's arrays."""
    # An empty payload was purged: there is nothing left to seal.
    payloads = [(i, new) for i, old in page if old and (new := payload(bytes(old), i.encode()))]
    reasons = [(seq, text) for seq, i, old in events if (text := reason(old, i.encode()))]
    return {
        "ids": [i for i, _ in payloads],
        "payloads": [new for _, new in payloads],
        "seqs": [seq for seq, _ in reasons],
        "reasons": [text for _, text in reasons],
    }
