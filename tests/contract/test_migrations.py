"""Schema migrations: SQLite's numbered files (and a file made by the release before them)
and PostgreSQL's Migrations port."""

import sqlite3
from pathlib import Path

import psycopg

from postroom.domain.states import State
from postroom.ports.emails import EmailFilter
from postroom.ports.storage import Storage
from postroom.storage.postgres import migrate as postgres_migrate
from postroom.storage.postgres import open_storage
from postroom.storage.sqlite import sqlite_storage
from postroom.storage.sqlite.migrate import MIGRATIONS, SCHEMA_VERSION, migrate
from tests.conftest import ManualClock
from tests.support.postgres import database_url, fresh_database

RELEASE_SCHEMA = Path(__file__).parents[1] / "data" / "sqlite" / "release_2f1c8e1_schema.sql"
EMAIL_ID = "01900001-0000-7000-8000-000000000000"


def catalog(path: Path) -> set[tuple[object, ...]]:
    """Tables with their columns (name, type, not null, default, key) and indexes with their
    columns and condition: what a schema is, whatever order ALTER TABLE added columns in."""
    conn = sqlite3.connect(path)
    try:
        found: set[tuple[object, ...]] = set()
        for kind, name, table, sql in conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ):
            if kind == "table":
                columns = conn.execute(f"PRAGMA table_info({name})").fetchall()
                found |= {("column", name, *column[1:]) for column in columns}
            else:
                where = sql.partition(" WHERE ")[2] if sql else ""
                cols = tuple(row[2] for row in conn.execute(f"PRAGMA index_info({name})"))
                found.add(("index", name, table, cols, " ".join(where.split())))
        return found
    finally:
        conn.close()


def migrated(path: Path, steps: list[int]) -> None:
    for upto in steps:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            assert migrate(conn, upto) == [upto]
        finally:
            conn.close()


def test_sqlite_step_by_step_equals_fresh(tmp_path: Path) -> None:
    """Each numbered migration applied on its own, the file reopened between them, builds the
    schema one run of every migration builds."""
    migrated(tmp_path / "stepped.db", [m.number for m in MIGRATIONS])
    conn = sqlite3.connect(tmp_path / "fresh.db", isolation_level=None)
    assert migrate(conn) == [m.number for m in MIGRATIONS]
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
    stepped = catalog(tmp_path / "stepped.db")
    assert ("index", "attempts_message", "attempts", ("provider", "message_id"), "") in stepped
    assert stepped == catalog(tmp_path / "fresh.db")


async def test_a_file_of_the_previous_release_opens_migrated_with_its_rows(
    tmp_path: Path, clock: ManualClock
) -> None:
    """A database made by the release before numbered migrations (user_version 4) is upgraded
    on open: its emails and keys read back, its past sends are found by provider id, and its
    schema equals a fresh one."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(RELEASE_SCHEMA.read_text())
    conn.execute("PRAGMA user_version = 4")
    conn.execute(
        "INSERT INTO emails (id, state, created_at, updated_at, send_at, attempts, owner, payload)"
        " VALUES (?, 'sent', 1.0, 2.0, 1.0, 1, 'k1', x'00')",
        (EMAIL_ID,),
    )
    conn.execute(
        "INSERT INTO events (email_id, at, state, provider, reason, outcome, code)"
        " VALUES (?, 2.0, 'sent', 'mailgun', 'mg-1', 'sent', 'http_200')",
        (EMAIL_ID,),
    )
    conn.execute(
        "INSERT INTO api_keys (id, name, token_hash, prefix, created_at) VALUES"
        " ('k1', 'ci', 'hash-1', 'pr_a', 1.0)"
    )
    conn.close()
    storage = sqlite_storage(str(path), clock)
    try:
        status = await storage.emails.status(EMAIL_ID)
        assert status is not None
        assert (status.state, status.owner, status.events[-1].reason) == (State.SENT, "k1", "mg-1")
        assert [key.id for key in await storage.keys.list_keys()] == ["k1"]
        assert await storage.emails.find_by_provider_id("mailgun", "mg-1") == EMAIL_ID
    finally:
        await storage.close()
    fresh = sqlite3.connect(tmp_path / "fresh.db", isolation_level=None)
    migrate(fresh)
    fresh.close()
    assert catalog(path) == catalog(tmp_path / "fresh.db")


async def test_postgres_migrate_applies_nothing_on_a_migrated_database(
    postgres_storage: Storage,
) -> None:
    """The Migrations port: a migrated database has nothing pending, and answers after."""
    assert postgres_storage.migrations is not None
    assert await postgres_storage.migrations.migrate() == []
    await postgres_storage.lifecycle.ping()


async def test_sqlite_has_no_migrations_port(tmp_path: Path, clock: ManualClock) -> None:
    """SQLite upgrades its file itself on open: it offers no Migrations port."""
    storage = sqlite_storage(str(tmp_path / "x.db"), clock)
    assert storage.migrations is None
    await storage.close()


async def test_sqlite_keys_made_before_scopes_send_and_read(
    tmp_path: Path, clock: ManualClock
) -> None:
    """A key stored before 0009_key_scopes keeps working as it did: after the migration it
    has the `send` and `read` scopes and no expiry."""
    path = tmp_path / "keys.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert 9 not in migrate(conn, 8)
    conn.execute(
        "INSERT INTO api_keys (id, name, token_hash, prefix, created_at, tenant) VALUES"
        " ('k1', 'ci', 'hash-1', 'pr_a', 1.0, 'acme')"
    )
    conn.close()
    storage = sqlite_storage(str(path), clock)
    try:
        (key,) = await storage.keys.list_keys()
        assert (key.id, key.tenant, key.scopes, key.expires_at) == (
            "k1",
            "acme",
            {"send", "read"},
            None,
        )
        assert (await storage.keys.active_keys())["hash-1"].scopes == {"send", "read"}
    finally:
        await storage.close()


async def test_postgres_keys_made_before_scopes_send_and_read(clock: ManualClock) -> None:
    """The same on PostgreSQL: a key of a database at 0008 has `send` and `read` after 0009."""
    with fresh_database("postroom_keys") as name:
        url = database_url(name)
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            before = await postgres_migrate.migrate(conn, upto="0008_webhooks")
            assert "0009_key_scopes" not in before
            await conn.execute(
                "INSERT INTO postroom_api_keys (id, name, token_hash, prefix, created_at)"
                " VALUES ('k1', 'ci', 'hash-1', 'pr_a', 1.0)"
            )
        storage = open_storage(database_url(name, "migrate=off"), clock)
        try:
            assert storage.migrations is not None
            assert "0009_key_scopes" in await storage.migrations.migrate()
            (key,) = await storage.keys.list_keys()
            assert (key.id, key.scopes, key.expires_at) == ("k1", {"send", "read"}, None)
        finally:
            await storage.close()


async def test_sqlite_emails_stored_before_0010_are_listed_as_the_default_tenants(
    tmp_path: Path, clock: ManualClock
) -> None:
    """An email stored before 0010_email_search has tenant `default` and no tags after it, so
    it is listed for that tenant alone and found by no tag and no recipient."""
    path = tmp_path / "search.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert 10 not in migrate(conn, 9)
    conn.execute(
        "INSERT INTO emails (id, state, created_at, updated_at, send_at, owner, payload)"
        " VALUES (?, 'queued', 1.0, 1.0, 1.0, 'k1', x'00')",
        (EMAIL_ID,),
    )
    conn.close()
    storage = sqlite_storage(str(path), clock)
    try:
        (found,) = await storage.emails.page("default", EmailFilter(), None, 10)
        assert (found.id, found.tags, found.state) == (EMAIL_ID, (), State.QUEUED)
        assert await storage.emails.page("acme", EmailFilter(), None, 10) == []
        assert await storage.emails.page("default", EmailFilter(tag="x"), None, 10) == []
        by_key = EmailFilter(recipient_key="k")
        assert await storage.emails.page("default", by_key, None, 10) == []
    finally:
        await storage.close()


async def test_postgres_emails_stored_before_0010_are_listed_as_the_default_tenants(
    clock: ManualClock,
) -> None:
    """The same on PostgreSQL: an email of a database at 0009 is the default tenant's after
    0010, with no tags."""
    with fresh_database("postroom_search") as name:
        url = database_url(name)
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            assert "0010_email_search" not in await postgres_migrate.migrate(
                conn, upto="0009_key_scopes"
            )
            await conn.execute(
                "INSERT INTO postroom_emails (id, state, created_at, updated_at, send_at, owner,"
                " payload) VALUES (%s, 'queued', 1.0, 1.0, 1.0, 'k1', '\\x00'::bytea)",
                (EMAIL_ID,),
            )
        storage = open_storage(database_url(name, "migrate=off"), clock)
        try:
            assert storage.migrations is not None
            assert "0010_email_search" in await storage.migrations.migrate()
            (found,) = await storage.emails.page("default", EmailFilter(), None, 10)
            assert (found.id, found.tags) == (EMAIL_ID, ())
            assert await storage.emails.page("default", EmailFilter(tag="x"), None, 10) == []
        finally:
            await storage.close()


# A recipient key as intake made it before 0014: 64 hex characters.
HEX_KEY = "0123456789abcdef" * 4


async def test_sqlite_recipient_keys_stored_before_0014_still_find_their_emails(
    tmp_path: Path, clock: ManualClock
) -> None:
    """0014 turns each stored hex recipient key into its first 16 bytes: an email stored
    before it is still found by `to=`, for its tenant only, and purged with its keys."""
    path = tmp_path / "keys.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert 14 not in migrate(conn, 13)
    conn.execute(
        "INSERT INTO emails (id, state, created_at, updated_at, send_at, owner, payload, tenant)"
        " VALUES (?, 'sent', 1.0, 1.0, 1.0, 'k1', x'00', 'acme')",
        (EMAIL_ID,),
    )
    conn.execute("INSERT INTO email_recipients VALUES (?, ?, 'acme', 1.0)", (EMAIL_ID, HEX_KEY))
    conn.close()
    storage = sqlite_storage(str(path), clock)
    try:
        by_key = EmailFilter(recipient_key=HEX_KEY)
        assert [e.id for e in await storage.emails.page("acme", by_key, None, 10)] == [EMAIL_ID]
        assert await storage.emails.page("other", by_key, None, 10) == []
        assert await storage.sealed.purge_content(before=2.0) == 1
        assert await storage.emails.page("acme", by_key, None, 10) == []
    finally:
        await storage.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM email_recipients").fetchone() == (0,)
    conn.close()


async def test_postgres_recipient_keys_stored_before_0014_still_find_their_emails(
    clock: ManualClock,
) -> None:
    """The same on PostgreSQL: 0014 turns the hex keys into bytea of their first 16 bytes."""
    with fresh_database("postroom_keys") as name:
        url = database_url(name)
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await postgres_migrate.migrate(conn, upto="0013_sessions")
            await conn.execute(
                "INSERT INTO postroom_emails (id, state, created_at, updated_at, send_at, owner,"
                " payload, tenant)"
                " VALUES (%s, 'sent', 1.0, 1.0, 1.0, 'k1', '\\x00'::bytea, 'acme')",
                (EMAIL_ID,),
            )
            await conn.execute(
                "INSERT INTO postroom_email_recipients VALUES (%s, %s, 'acme', 1.0)",
                (EMAIL_ID, HEX_KEY),
            )
        storage = open_storage(url, clock)
        try:
            by_key = EmailFilter(recipient_key=HEX_KEY)
            found = await storage.emails.page("acme", by_key, None, 10)
            assert [e.id for e in found] == [EMAIL_ID]
            assert await storage.emails.page("other", by_key, None, 10) == []
            assert await storage.sealed.purge_content(before=2.0) == 1
            assert await storage.emails.page("acme", by_key, None, 10) == []
        finally:
            await storage.close()


async def test_sqlite_attempts_stored_before_0012_are_counted_but_not_timed(
    tmp_path: Path, clock: ManualClock
) -> None:
    """An attempt stored before 0012_attempt_durations has no duration after it: it counts
    as a call, and the provider has no latency percentiles until a timed call comes."""
    path = tmp_path / "durations.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert 12 not in migrate(conn, 11)
    conn.execute(
        "INSERT INTO attempts (email_id, at, provider, message_id, outcome, code)"
        " VALUES (?, ?, 'mailgun', 'mg-1', 'sent', 'http_200')",
        (EMAIL_ID, clock.now()),
    )
    conn.close()
    storage = sqlite_storage(str(path), clock)
    try:
        assert storage.activity is not None
        (found,) = await storage.activity.attempts(clock.now() - 1)
        assert (found.attempts, found.succeeded, found.p50_ms, found.p99_ms) == (1, 1, None, None)
    finally:
        await storage.close()


async def test_postgres_attempts_stored_before_0012_are_counted_but_not_timed(
    clock: ManualClock,
) -> None:
    """The same on PostgreSQL: an attempt of a database at 0011 has a NULL duration."""
    with fresh_database("postroom_durations") as name:
        url = database_url(name)
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await postgres_migrate.migrate(conn, upto="0011_provider_pauses")
            await conn.execute(
                "INSERT INTO postroom_emails (id, state, created_at, updated_at, send_at, owner,"
                " payload) VALUES (%s, 'sent', 1.0, 1.0, 1.0, '', '\\x00'::bytea)",
                (EMAIL_ID,),
            )
            await conn.execute(
                "INSERT INTO postroom_attempts (email_id, at, provider, outcome)"
                " VALUES (%s, %s, 'mailgun', 'sent')",
                (EMAIL_ID, clock.now()),
            )
        storage = open_storage(database_url(name, "migrate=off"), clock)
        try:
            assert storage.migrations is not None
            assert storage.activity is not None
            assert "0012_attempt_durations" in await storage.migrations.migrate()
            (found,) = await storage.activity.attempts(clock.now() - 1)
            assert (found.attempts, found.p50_ms, found.p99_ms) == (1, None, None)
        finally:
            await storage.close()


# The indexes of 0012 each of the dashboard's time-range reads goes through.
SQLITE_RANGES = {
    "emails": "emails_created",
    "events": "events_settled",
    "provider_events": "provider_events_matched",
    "attempts": "attempts_at",
}


def test_sqlite_dashboard_reads_search_their_time_indexes(tmp_path: Path) -> None:
    """EXPLAIN QUERY PLAN of the activity counts, the attempt counts and the percentiles:
    every table is searched through its 0012 index, none is scanned."""
    from postroom.storage.sqlite import activity

    conn = sqlite3.connect(tmp_path / "plan.db", isolation_level=None)
    migrate(conn)
    queries = [
        (activity._COUNTS, {"since": 0.0, "width": 60.0, "until": 3600.0}),
        (activity._ATTEMPTS, {"succeeded": "sent", "since": 0.0}),
        (activity._PERCENTILES, {"median": 50, "high": 99, "since": 0.0}),
    ]
    steps = [
        str(row[3])
        for sql, params in queries
        for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)
    ]
    conn.close()
    tables = [step.split()[1] for step in steps if step.startswith(("SCAN", "SEARCH"))]
    assert {t for t in tables if not t.startswith("(")} == set(SQLITE_RANGES)
    for table, index in SQLITE_RANGES.items():
        assert any(s.startswith(f"SEARCH {table} USING") and f"INDEX {index} " in s for s in steps)
    assert not [s for s in steps if s.startswith("SCAN") and not s.startswith("SCAN (")]


async def test_postgres_dashboard_reads_can_use_their_time_indexes(
    postgres_database: str,
) -> None:
    """EXPLAIN of the activity counts and the attempt counts, sequential scans discouraged
    (the test's tables are too small to prefer an index otherwise): each table is read through
    its 0012 index."""
    from postroom.storage.postgres import activity

    counts = {"since": 0.0, "width": 60.0, "until": 3600.0}
    calls = {"since": 0.0, "succeeded": "sent", "median": 0.5, "high": 0.99}
    url = database_url(postgres_database)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("SET enable_seqscan = off")
        plan = []
        for sql, params in [(activity._COUNTS, counts), (activity._ATTEMPTS, calls)]:
            cursor = await conn.execute(b"EXPLAIN " + sql, params)
            plan += [str(line) for (line,) in await cursor.fetchall()]
    text = "\n".join(plan)
    for index in (
        "postroom_emails_created",
        "postroom_events_settled",
        "postroom_provider_events_matched",
        "postroom_attempts_at",
    ):
        # "Index Scan using NAME on TABLE", "Bitmap Index Scan on NAME"
        assert f"using {index} " in text or f"Scan on {index}" in text, text
    assert "Seq Scan" not in text


def test_sqlite_soft_bounces_search_the_partial_bounce_index(tmp_path: Path) -> None:
    """The soft-bounce count reads a range of the bounces-only index of migration 0015."""
    from postroom.storage.sqlite import events

    conn = sqlite3.connect(tmp_path / "plan.db", isolation_level=None)
    migrate(conn)
    plan = conn.execute(
        f"EXPLAIN QUERY PLAN {events._SOFT_BOUNCES}", ("acme", "rk", 0.0, "matched", "soft")
    ).fetchall()
    conn.close()
    assert [str(row[3]) for row in plan] == [
        "SEARCH provider_events USING INDEX provider_events_recipient"
        " (tenant=? AND recipient_key=? AND at>?)"
    ]


def test_sqlite_pending_events_are_handed_out_from_the_partial_pending_index(
    tmp_path: Path,
) -> None:
    """The processor's hand-out reads a range of the pending-only index of migration 0015,
    in its order (no sort)."""
    from postroom.storage.sqlite import events

    conn = sqlite3.connect(tmp_path / "plan.db", isolation_level=None)
    migrate(conn)
    plan = conn.execute(f"EXPLAIN QUERY PLAN SELECT seq {events._DUE}", (0.0, 10)).fetchall()
    conn.close()
    assert [str(row[3]) for row in plan] == [
        "SEARCH provider_events USING INDEX provider_events_pending (not_before<?)"
    ]


async def test_postgres_event_reads_can_use_their_partial_indexes(
    postgres_database: str,
) -> None:
    """EXPLAIN of the processor's hand-out and the soft-bounce count, sequential scans
    discouraged: each reads its partial index of migration 0015 whatever its parameters."""
    from postroom.storage.postgres.queries import QUERIES

    reads = {
        "pending_events": ({"limit": 10, "now": 0.0, "until": 30.0}, "pending"),
        "soft_bounces": (
            {"tenant": "acme", "recipient_key": "rk", "since": 0.0, "bounce": "soft"},
            "recipient",
        ),
    }
    url = database_url(postgres_database)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("SET enable_seqscan = off")
        for name, (params, index) in reads.items():
            cursor = await conn.execute(b"EXPLAIN " + QUERIES[name], params)
            text = "\n".join(str(line) for (line,) in await cursor.fetchall())
            assert f"postroom_provider_events_{index} " in text, text
