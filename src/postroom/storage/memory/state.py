"""The memory engine's one shared object: every email, key, attempt, provider event,
suppression, template, webhook endpoint, feed item and webhook message, in this process only."""

from dataclasses import dataclass, field

from postroom.domain.keys import DEFAULT_TENANT
from postroom.domain.states import State
from postroom.ports.clock import Clock
from postroom.ports.events import EventRecord
from postroom.ports.keys import ApiKey
from postroom.ports.queue import Event
from postroom.ports.suppressions import SuppressionRecord
from postroom.ports.templates import StoredTemplate
from postroom.ports.webhooks import Attempt, Endpoint, FeedItem, Message

IDEMPOTENCY_WINDOW = 24 * 3600.0


@dataclass(slots=True)
class Row:
    id: str
    state: State
    created_at: float
    send_at: float
    payload: bytes
    available_at: float | None
    attempts: int = 0
    token: str | None = None
    dead: bool = False
    owner: str = ""
    events: list[Event] = field(default_factory=list)
    tenant: str = DEFAULT_TENANT
    tags: tuple[str, ...] = ()
    # Its recipients' keyed address hashes; emptied with the content by retention.
    recipient_keys: frozenset[str] = frozenset()
    provider: str = ""  # the last settle's, as the SQL engines keep it


@dataclass(slots=True)
class StoredEvent:
    record: EventRecord  # its seq set; email_id, recipient_index and tenant once matched
    state: str  # pending, matched or unmatched
    not_before: float  # pending only: when it may be handed out (again)


@dataclass(slots=True)
class StoredItem:
    # The item's own fields; an event's item reads the rest from its event (event_seq).
    item: FeedItem
    event_seq: int | None = None


@dataclass(slots=True)
class StoredMessage:
    message: Message  # item None: read from the feed by feed_seq
    feed_seq: int = 0  # 0: not from the feed


@dataclass(slots=True)
class MemoryState:
    clock: Clock
    rows: dict[str, Row] = field(default_factory=dict)
    # Idempotency keys: key -> (fingerprint, email id, created at).
    keys: dict[str, tuple[bytes, str, float]] = field(default_factory=dict)
    api_keys: dict[str, ApiKey] = field(default_factory=dict)  # by token hash
    # The attempts table's index: (provider, provider message id) -> email id.
    sent_as: dict[tuple[str, str], str] = field(default_factory=dict)
    # Provider events by seq (so in the order recorded), and the (provider, dedup_key) of each.
    events: dict[int, StoredEvent] = field(default_factory=dict)
    event_keys: set[tuple[str, str]] = field(default_factory=set)
    last_seq: int = 0
    # Replay tokens: token -> (digest, created at).
    replays: dict[str, tuple[str, float]] = field(default_factory=dict)
    # The suppression list: (tenant, key) -> scope -> entry.
    suppressions: dict[tuple[str, str], dict[str, SuppressionRecord]] = field(default_factory=dict)
    # Templates by (tenant, name): only the newest and current versions can ever be read.
    templates: dict[tuple[str, str], StoredTemplate] = field(default_factory=dict)
    # When each template's version 1 was stored, for the list (by the same key).
    template_created: dict[tuple[str, str], float] = field(default_factory=dict)
    # Webhooks out: endpoints by id, the feed by seq (and the item of each event seq), the
    # outbox's messages and their attempts by id.
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    feed: dict[int, StoredItem] = field(default_factory=dict)
    fed_events: dict[int, int] = field(default_factory=dict)
    last_feed_seq: int = 0
    outbox: dict[int, StoredMessage] = field(default_factory=dict)
    last_message_id: int = 0
    webhook_attempts: dict[int, Attempt] = field(default_factory=dict)
    last_attempt_id: int = 0

    def record_attempts(self, email_id: str, events: tuple[Event, ...]) -> None:
        for event in events:
            if event.is_attempt and event.message_id:
                self.sent_as.setdefault((event.provider, event.message_id), email_id)

    def forget(self, email_id: str) -> None:
        """The email, its idempotency keys and its attempts, gone."""
        self.rows.pop(email_id, None)
        self.keys = {k: v for k, v in self.keys.items() if v[1] != email_id}
        self.sent_as = {k: v for k, v in self.sent_as.items() if v != email_id}
