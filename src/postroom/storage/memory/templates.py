"""The memory engine's templates: one StoredTemplate per (tenant, name), replaced on change."""

from dataclasses import replace

from postroom.ports.templates import StoredTemplate, TemplateVersion
from postroom.storage.memory.state import MemoryState


class MemoryTemplateStore:
    def __init__(self, state: MemoryState) -> None:
        self._templates = state.templates

    async def create(
        self, tenant: str, template_id: str, name: str, definition: str, now: float
    ) -> bool:
        if (tenant, name) in self._templates:
            return False
        first = TemplateVersion(1, definition, now)
        self._templates[tenant, name] = StoredTemplate(template_id, name, first, None)
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

    async def names(self, tenant: str) -> list[str]:
        return sorted(name for owner, name in self._templates if owner == tenant)

    async def delete(self, tenant: str, name: str) -> bool:
        return self._templates.pop((tenant, name), None) is not None
