"""Tenants' templates in PostgreSQL: postroom_templates and postroom_template_versions.

Every call is one statement (queries.sql), so a template's row and its new version change in
one transaction without holding a connection across round trips."""

from typing import Any

from postroom.ports.templates import StoredTemplate, TemplateSummary, TemplateVersion
from postroom.storage.cursors import cursor_of, parts_of
from postroom.storage.postgres.connection import PostgresConnection


class PostgresTemplateStore:
    def __init__(self, connection: PostgresConnection) -> None:
        self._db = connection

    async def create(
        self, tenant: str, template_id: str, name: str, definition: str, now: float
    ) -> bool:
        params = {"tenant": tenant, "name": name, "id": template_id}
        found = await self._db.fetch(
            "create_template", {**params, "definition": definition, "now": now}
        )
        return bool(found)

    async def add_version(self, tenant: str, name: str, definition: str, now: float) -> int | None:
        params = {"tenant": tenant, "name": name, "definition": definition, "now": now}
        found = await self._db.fetch("add_template_version", params)
        return int(found[0][0]) if found else None

    async def publish(self, tenant: str, name: str) -> int | None:
        found = await self._db.fetch("publish_template", {"tenant": tenant, "name": name})
        return int(found[0][0]) if found else None

    async def find(self, tenant: str, name: str) -> StoredTemplate | None:
        rows = await self._db.fetch("find_template", {"tenant": tenant, "name": name})
        return _stored(name, rows)

    async def page(
        self, tenant: str, after: str, limit: int
    ) -> tuple[list[TemplateSummary], str | None]:
        start = parts_of(after, 1)
        params = {"tenant": tenant, "after": start[0] if start else "", "limit": max(limit, 0) + 1}
        rows = await self._db.fetch("template_page", params)  # one more: is there a next page
        page = [TemplateSummary(*row) for row in rows[:limit]]
        if len(rows) > len(page) and page:
            return page, cursor_of(page[-1].name)
        return page, None

    async def delete(self, tenant: str, name: str) -> bool:
        return bool(await self._db.fetch("delete_template", {"tenant": tenant, "name": name}))


def _stored(name: str, rows: list[tuple[Any, ...]]) -> StoredTemplate | None:
    """Rows of (id, latest, current, version, definition, created_at): one or two versions."""
    if not rows:
        return None
    versions = {row[3]: TemplateVersion(row[3], row[4], row[5]) for row in rows}
    template_id, latest, current = rows[0][:3]
    return StoredTemplate(
        template_id, name, versions[latest], None if current is None else versions[current]
    )
