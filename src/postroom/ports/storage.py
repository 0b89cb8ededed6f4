"""Storage: the port objects of one engine (or of a queue and the store beside it), bundled.

Every field is a small port; the objects of one engine share one connection (SQLite's writer,
PostgreSQL's pool, the memory engine's state), so a settle and its events stay one write.
Abilities only some engines have are `None` elsewhere: callers test the field.
"""

from dataclasses import dataclass

from postroom.ports.activity import ActivityLog
from postroom.ports.claims import Claims
from postroom.ports.dead import DeadLetters
from postroom.ports.emails import EmailStore
from postroom.ports.events import EventStore, RecordingAcks
from postroom.ports.health import HealthStore
from postroom.ports.keys import KeyStore
from postroom.ports.lifecycle import Lifecycle
from postroom.ports.migrations import Migrations
from postroom.ports.notifications import Notifications
from postroom.ports.pauses import ProviderPauses
from postroom.ports.queue import Queue
from postroom.ports.requeue import Requeue
from postroom.ports.sealed import SealedContent
from postroom.ports.sessions import SessionStore
from postroom.ports.suppressions import SuppressionStore
from postroom.ports.templates import TemplateStore
from postroom.ports.webhooks import WebhookStore


@dataclass(frozen=True, slots=True)
class Storage:
    queue: Queue
    emails: EmailStore
    keys: KeyStore
    dead: DeadLetters
    sealed: SealedContent
    # The store's connection: ping, probe and close.
    lifecycle: Lifecycle
    # Leasing by id, for a queue apart from the store: SQL and memory stores.
    claims: Claims | None = None
    # Provider circuits shared by every worker: PostgreSQL.
    circuits: HealthStore | None = None
    # New-email notifications: PostgreSQL.
    wake: Notifications | None = None
    # Migrations on request (`postroom migrate`): PostgreSQL.
    migrations: Migrations | None = None
    # Messages again for waiting emails: a queue apart from the store (SQS).
    requeue: Requeue | None = None
    # That queue's own connection, pinged and closed with the store's.
    queue_lifecycle: Lifecycle | None = None
    # The database file, for start-up checks and the banner: SQLite.
    file: str | None = None
    # Provider events and the suppression list: every store (memory, SQLite, PostgreSQL);
    # beside SQS, the store's.
    events: EventStore | None = None
    suppressions: SuppressionStore | None = None
    # Tenants' email templates: every store; beside SQS, the store's.
    templates: TemplateStore | None = None
    # The application's webhook endpoints, the events feed and the webhook outbox: every
    # store; beside SQS, the store's. Written in the event store's writes (ports/webhooks.py).
    webhooks: WebhookStore | None = None
    # Counts per time bucket for the dashboard (ports/activity.py): every store; beside SQS,
    # the store's.
    activity: ActivityLog | None = None
    # Providers an operator paused (ports/pauses.py), shared by every process on the store:
    # every store; beside SQS, the store's.
    pauses: ProviderPauses | None = None
    # The inbox's and the dashboard's browser sessions (ports/sessions.py), beside the keys they
    # were made from: every store; beside SQS, the store's.
    sessions: SessionStore | None = None
    # An ack and its email's own events in one write: a store that is the queue too (SQLite);
    # None beside SQS, whose queue is apart from the store.
    recording_acks: RecordingAcks | None = None

    async def ping(self) -> None:
        """The store answers, and the queue apart from it when there is one."""
        await self.lifecycle.ping()
        if self.queue_lifecycle is not None:
            await self.queue_lifecycle.ping()

    async def close(self) -> None:
        """The queue apart first (it may still write to the store), then the store."""
        if self.queue_lifecycle is not None:
            await self.queue_lifecycle.close()
        await self.lifecycle.close()
