"""The memory engine's suppression list: one entry per (tenant, key, scope)."""

from collections.abc import Collection, Sequence

from postroom.ports.suppressions import SuppressionRecord
from postroom.storage.cursors import cursor_of, parts_of
from postroom.storage.memory.state import MemoryState


class MemorySuppressionStore:
    def __init__(self, state: MemoryState) -> None:
        self._entries = state.suppressions

    async def suppress(self, entries: Sequence[SuppressionRecord]) -> int:
        changed = 0
        for entry in entries:
            scopes = self._entries.setdefault((entry.tenant, entry.key), {})
            stored = scopes.get(entry.scope)
            if stored is None or replaces(stored, entry):
                scopes[entry.scope] = entry
                changed += 1
        return changed

    async def find(self, tenant: str, keys: Collection[str]) -> list[SuppressionRecord]:
        return [
            entry
            for key in sorted(set(keys))
            for _, entry in sorted(self._entries.get((tenant, key), {}).items())
        ]

    async def remove(self, tenant: str, key: str, scope: str | None = None) -> int:
        scopes = self._entries.get((tenant, key), {})
        gone = list(scopes) if scope is None else [s for s in scopes if s == scope]
        for name in gone:
            del scopes[name]
        if not scopes:
            self._entries.pop((tenant, key), None)
        return len(gone)

    async def page(
        self, tenant: str, reason: str | None, after: str, limit: int
    ) -> tuple[list[SuppressionRecord], str | None]:
        start = parts_of(after, 2)
        later = sorted(
            (
                entry
                for (owner, key), scopes in self._entries.items()
                if owner == tenant
                for scope, entry in scopes.items()
                if (reason is None or entry.reason == reason)
                and (start is None or (key, scope) > start)
            ),
            key=lambda entry: (entry.key, entry.scope),
        )
        page = later[:limit]
        if len(later) > len(page) and page:
            return page, cursor_of(page[-1].key, page[-1].scope)
        return page, None


def replaces(stored: SuppressionRecord, new: SuppressionRecord) -> bool:
    """The port's rule: the stored entry has expired by the new one's creation, or it expires
    and the new one never does."""
    if stored.expires_at is None:
        return False
    return stored.expires_at <= new.created_at or new.expires_at is None
