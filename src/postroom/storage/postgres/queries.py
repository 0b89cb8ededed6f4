"""The named queries of queries.sql, parsed once, with the states of domain/states.py put in."""

from collections.abc import Mapping
from importlib import resources
from typing import Any

from psycopg import AsyncConnection

from postroom.storage.sql import STATE_SQL

Row = tuple[Any, ...]


def parse_queries(text: str) -> dict[str, bytes]:
    """`-- name: x` blocks; the description comments right after the name are dropped.

    Bytes, because psycopg's typing accepts only literal strings or bytes as queries."""
    queries = {}
    for block in text.split("-- name: ")[1:]:
        name, _, body = block.partition("\n")
        lines = body.strip().splitlines()
        while lines and lines[0].startswith("--"):
            lines.pop(0)
        queries[name.strip()] = "\n".join(lines).strip().format_map(STATE_SQL).encode()
    return queries


QUERIES = parse_queries(
    resources.files("postroom.storage.postgres").joinpath("queries.sql").read_text()
)


async def rows(conn: AsyncConnection[Row], query: str, params: Mapping[str, Any]) -> list[Row]:
    cursor = await conn.execute(QUERIES[query], params, binary=True)
    return await cursor.fetchall()


def columns(names: tuple[str, ...], values: list[Row]) -> dict[str, list[Any]]:
    """Rows as one array per column, for UNNEST: one statement whatever the batch size."""
    return {
        name: list(column) for name, column in zip(names, zip(*values, strict=True), strict=True)
    }
