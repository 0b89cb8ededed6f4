"""Tenants' templates in SQLite: the templates and template_versions tables.

Each change is one operation of the group commit, so a template's row and its new version are
one transaction; reads go to the reader connection."""

import sqlite3
from typing import Any

from postroom.ports.templates import StoredTemplate, TemplateSummary, TemplateVersion
from postroom.storage.cursors import cursor_of, parts_of
from postroom.storage.sqlite.connection import SqliteConnection

# A page is a range of the (tenant, name) primary key; version 1 gives the template's
# creation time, the newest version its last change. Every name is longer than "".
_PAGE = (
    "SELECT t.id, t.name, t.latest, t.current, oldest.created_at, newest.created_at"
    " FROM templates t"
    " JOIN template_versions oldest ON oldest.template_id = t.id AND oldest.version = 1"
    " JOIN template_versions newest ON newest.template_id = t.id AND newest.version = t.latest"
    " WHERE t.tenant = ? AND t.name > ? ORDER BY t.name LIMIT ?"
)


class SqliteTemplateStore:
    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection

    async def create(
        self, tenant: str, template_id: str, name: str, definition: str, now: float
    ) -> bool:
        def create(conn: sqlite3.Connection) -> bool:
            added = conn.execute(
                "INSERT INTO templates (tenant, name, id, latest) VALUES (?, ?, ?, 1)"
                " ON CONFLICT (tenant, name) DO NOTHING",
                (tenant, name, template_id),
            ).rowcount
            if added:
                _add(conn, template_id, 1, definition, now)
            return bool(added)

        return await self._db.write(create)

    async def add_version(self, tenant: str, name: str, definition: str, now: float) -> int | None:
        def add_version(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(
                "UPDATE templates SET latest = latest + 1 WHERE tenant = ? AND name = ?"
                " RETURNING id, latest",
                (tenant, name),
            ).fetchone()
            if row is None:
                return None
            _add(conn, row[0], row[1], definition, now)
            return int(row[1])

        return await self._db.write(add_version)

    async def publish(self, tenant: str, name: str) -> int | None:
        sql = "UPDATE templates SET current = latest WHERE tenant = ? AND name = ? RETURNING latest"
        row = await self._db.write(lambda conn: conn.execute(sql, (tenant, name)).fetchone())
        return None if row is None else int(row[0])

    async def find(self, tenant: str, name: str) -> StoredTemplate | None:
        return await self._db.read(_find, tenant, name)

    async def page(
        self, tenant: str, after: str, limit: int
    ) -> tuple[list[TemplateSummary], str | None]:
        start = parts_of(after, 1)
        found = await self._db.read(_page, tenant, start[0] if start else "", limit)
        return _summaries(found, limit)

    async def delete(self, tenant: str, name: str) -> bool:
        def delete(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "DELETE FROM templates WHERE tenant = ? AND name = ? RETURNING id", (tenant, name)
            ).fetchone()
            if row is not None:
                conn.execute("DELETE FROM template_versions WHERE template_id = ?", (row[0],))
            return row is not None

        return await self._db.write(delete)


def _add(conn: sqlite3.Connection, template_id: str, version: int, text: str, now: float) -> None:
    conn.execute(
        "INSERT INTO template_versions (template_id, version, definition, created_at)"
        " VALUES (?, ?, ?, ?)",
        (template_id, version, text, now),
    )


def _find(conn: sqlite3.Connection, tenant: str, name: str) -> StoredTemplate | None:
    rows = conn.execute(
        "SELECT t.id, t.latest, t.current, v.version, v.definition, v.created_at"
        " FROM templates t JOIN template_versions v ON v.template_id = t.id"
        " AND v.version IN (t.latest, t.current) WHERE t.tenant = ? AND t.name = ?",
        (tenant, name),
    ).fetchall()
    return stored_template(name, rows)


def stored_template(name: str, rows: list[tuple[Any, ...]]) -> StoredTemplate | None:
    """Rows of (id, latest, current, version, definition, created_at): one or two versions."""
    if not rows:
        return None
    versions = {row[3]: TemplateVersion(row[3], row[4], row[5]) for row in rows}
    template_id, latest, current = rows[0][:3]
    return StoredTemplate(
        template_id, name, versions[latest], None if current is None else versions[current]
    )


def _page(conn: sqlite3.Connection, tenant: str, after: str, limit: int) -> list[tuple[Any, ...]]:
    """Up to limit + 1 rows: one more tells whether there is a next page."""
    return conn.execute(_PAGE, (tenant, after, max(limit, 0) + 1)).fetchall()


def _summaries(rows: list[tuple[Any, ...]], limit: int) -> tuple[list[TemplateSummary], str | None]:
    """Rows of (id, name, latest, current, created_at, updated_at), one past the page when
    there is a next: the page and the cursor of the next."""
    page = [TemplateSummary(*row) for row in rows[:limit]]
    if len(rows) > len(page) and page:
        return page, cursor_of(page[-1].name)
    return page, None
