"""The memory engine's templates: one StoredTemplate per (tenant, name), replaced on change."""

from dataclasses import replace

from postroom.ports.templates import StoredTemplate, TemplateSummary, TemplateVersion
from postroom.storage.cursors import cursor_of, parts_of
from postroom.storage.memory.state import MemoryState


class MemoryTemplateStore:
    def __init__(self, state: MemoryState) -> None:
        self._templates = state.templates
        self._created = state.template_created

    async def create(
        self, tenant: str, template_id: str, name: str, definition: str, now: float
    ) -> bool:
        if (tenant, name) in self._templates:
            return False
        first = TemplateVersion(1, definition, now)
        self._templates[tenant, name] = StoredTemplate(template_id, name, first, None)
        self._created[tenant, name] = now
        return True

    async def add_version(self, tenant: str, name: str, definition: str, now: float) -> int | None:
        found = self._templates.get((tenant, name))
        if found is None:
            return None
        latest = TemplateVersion(found.latest.version + 1, definition, now)
        self._templates[tenant, name] = replace(found, latest=latest)
        return latest.version

    async def publish(self, tenant: str, name: str) -> int | None:
        found = self._templates.get((tenant, name))
        if found is None:
            return None
        self._templates[tenant, name] = replace(found, current=found.latest)
        return found.latest.version

    async def find(self, tenant: str, name: str) -> StoredTemplate | None:
        return self._templates.get((tenant, name))

    async def page(
        self, tenant: str, after: str, limit: int
    ) -> tuple[list[TemplateSummary], str | None]:
        start = parts_of(after, 1)
        later = sorted(
            name
            for owner, name in self._templates
            if owner == tenant and (start is None or name > start[0])
        )
        page = [self._summary(tenant, name) for name in later[:limit]]
        if len(later) > len(page) and page:
            return page, cursor_of(page[-1].name)
        return page, None

    async def delete(self, tenant: str, name: str) -> bool:
        self._created.pop((tenant, name), None)
        return self._templates.pop((tenant, name), None) is not None

    def _summary(self, tenant: str, name: str) -> TemplateSummary:
        found = self._templates[tenant, name]
        current = None if found.current is None else found.current.version
        created = self._created[tenant, name]
        return TemplateSummary(
            found.id, name, found.latest.version, current, created, found.latest.created_at
        )
