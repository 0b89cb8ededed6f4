"""The PostgreSQL engine: many API and worker processes on many machines share one database.

Every port object shares one PostgresConnection (its pool, migrated on first use). The SQL is in
queries.sql, the schema in migrations/, the design in docs/postgres.md.
"""

from postroom.ports.clock import Clock
from postroom.ports.storage import Storage
from postroom.storage.postgres.activity import PostgresActivityLog
from postroom.storage.postgres.claims import PostgresClaims
from postroom.storage.postgres.connection import PostgresConnection
from postroom.storage.postgres.dead import PostgresDeadLetters
from postroom.storage.postgres.emails import PostgresEmailStore
from postroom.storage.postgres.events import PostgresEventStore
from postroom.storage.postgres.health import PostgresHealthStore
from postroom.storage.postgres.keys import PostgresKeyStore
from postroom.storage.postgres.lifecycle import PostgresLifecycle
from postroom.storage.postgres.notifications import PostgresNotifications
from postroom.storage.postgres.pauses import PostgresProviderPauses
from postroom.storage.postgres.queue import PostgresQueue
from postroom.storage.postgres.schema import PostgresMigrations
from postroom.storage.postgres.sealed import PostgresSealedContent
from postroom.storage.postgres.sessions import PostgresSessionStore
from postroom.storage.postgres.suppressions import PostgresSuppressionStore
from postroom.storage.postgres.templates import PostgresTemplateStore
from postroom.storage.postgres.webhooks import PostgresWebhookStore


def open_storage(url: str, clock: Clock) -> Storage:
    """`postgresql://user:password@host:port/database?option=value`; ValueError naming the
    problem (see PostgresConnection.from_url)."""
    return storage_of(PostgresConnection.from_url(url, clock))


def storage_of(connection: PostgresConnection) -> Storage:
    return Storage(
        queue=PostgresQueue(connection),
        emails=PostgresEmailStore(connection),
        keys=PostgresKeyStore(connection),
        dead=PostgresDeadLetters(connection),
        sealed=PostgresSealedContent(connection),
        lifecycle=PostgresLifecycle(connection),
        claims=PostgresClaims(connection),
        circuits=PostgresHealthStore(connection),
        wake=PostgresNotifications(connection),
        migrations=PostgresMigrations(connection),
        events=PostgresEventStore(connection),
        suppressions=PostgresSuppressionStore(connection),
        templates=PostgresTemplateStore(connection),
        webhooks=PostgresWebhookStore(connection),
        activity=PostgresActivityLog(connection),
        pauses=PostgresProviderPauses(connection),
        sessions=PostgresSessionStore(connection),
    )
