"""Addresses (services/feed.py): a recipient's address from its email's stored content, read
for many emails at once."""

from collections.abc import Sequence

from postroom.domain.message import Address, Email
from postroom.ports.queue import NewEmail
from postroom.ports.sealed import SealedContent
from postroom.services.content import Content, NoCipher
from postroom.services.feed import Addresses
from postroom.storage.memory import memory_storage
from tests.conftest import ManualClock


class CountingSealed:
    """A SealedContent's bulk reads, counted (the only method Addresses uses)."""

    def __init__(self, inner: SealedContent) -> None:
        self._inner = inner
        self.reads: list[list[str]] = []

    async def payloads(self, email_ids: Sequence[str]) -> dict[str, bytes]:
        self.reads.append(list(email_ids))
        return await self._inner.payloads(email_ids)


async def _stored(count: int) -> tuple[CountingSealed, Content, list[str]]:
    clock = ManualClock()
    storage = memory_storage(clock)
    content = Content(NoCipher())
    ids = [f"0190{n:04d}-0000-7000-8000-000000000000" for n in range(count)]
    for n, email_id in enumerate(ids):
        email = Email(Address("shop@example.com"), (Address(f"a{n}@example.org"),))
        await storage.queue.put(NewEmail(email_id, content.seal_email(email, email_id), 0.0))
    return CountingSealed(storage.sealed), content, ids


async def test_a_lease_of_emails_is_read_in_one_read() -> None:
    """Loading many emails reads once; their addresses then need no read at all."""
    sealed, content, ids = await _stored(3)
    addresses = Addresses(sealed, content)  # type: ignore[arg-type]  # payloads() only
    await addresses.load([*ids, ids[0]])
    assert sealed.reads == [ids]
    assert [await addresses.of(i, 0) for i in ids] == [f"a{n}@example.org" for n in range(3)]
    await addresses.load(ids)
    assert len(sealed.reads) == 1


async def test_an_unknown_email_or_position_has_no_address() -> None:
    """No content (purged or never stored) and a position past the recipients: None."""
    sealed, content, ids = await _stored(1)
    addresses = Addresses(sealed, content)  # type: ignore[arg-type]  # payloads() only
    assert await addresses.of("0000-unknown", 0) is None
    assert await addresses.of(ids[0], 1) is None
    assert await addresses.of(ids[0], 0) == "a0@example.org"
