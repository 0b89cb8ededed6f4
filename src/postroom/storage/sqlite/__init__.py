"""The embedded engine: one SQLite file in WAL mode, fsynced before every answer.

Every port object shares one SqliteConnection (its group-commit writer and reader thread).
"""

import os

from postroom.ports.clock import Clock
from postroom.ports.storage import Storage
from postroom.storage.sqlite.activity import SqliteActivityLog
from postroom.storage.sqlite.claims import SqliteClaims
from postroom.storage.sqlite.connection import SqliteConnection
from postroom.storage.sqlite.dead import SqliteDeadLetters
from postroom.storage.sqlite.emails import SqliteEmailStore
from postroom.storage.sqlite.events import SqliteEventStore
from postroom.storage.sqlite.keys import SqliteKeyStore
from postroom.storage.sqlite.lifecycle import SqliteLifecycle
from postroom.storage.sqlite.pauses import SqliteProviderPauses
from postroom.storage.sqlite.queue import SqliteQueue
from postroom.storage.sqlite.sealed import SqliteSealedContent
from postroom.storage.sqlite.sessions import SqliteSessionStore
from postroom.storage.sqlite.suppressions import SqliteSuppressionStore
from postroom.storage.sqlite.templates import SqliteTemplateStore
from postroom.storage.sqlite.webhooks import SqliteWebhookStore


def open_storage(url: str, clock: Clock) -> Storage:
    """`sqlite:///relative.db`, `sqlite:////absolute.db`; ValueError naming the problem."""
    return storage_of(SqliteConnection.from_url(url, clock))


def sqlite_storage(path: str, clock: Clock, *, max_size_mb: int = 0) -> Storage:
    """The engine over the file at `path` (created with its schema on first use)."""
    return storage_of(SqliteConnection(path, clock, max_size_mb=max_size_mb))


def storage_of(connection: SqliteConnection) -> Storage:
    events = SqliteEventStore(connection)
    return Storage(
        queue=SqliteQueue(connection),
        emails=SqliteEmailStore(connection),
        keys=SqliteKeyStore(connection),
        dead=SqliteDeadLetters(connection),
        sealed=SqliteSealedContent(connection),
        lifecycle=SqliteLifecycle(connection),
        claims=SqliteClaims(connection),
        file=os.path.abspath(connection.path),
        events=events,
        suppressions=SqliteSuppressionStore(connection),
        templates=SqliteTemplateStore(connection),
        webhooks=SqliteWebhookStore(connection),
        activity=SqliteActivityLog(connection),
        pauses=SqliteProviderPauses(connection),
        sessions=SqliteSessionStore(connection),
        recording_acks=events,
    )
