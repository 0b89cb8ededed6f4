"""The memory engine's feed: items appended by the event store (and by disabling an endpoint),
each fanned out to the tenant's endpoints that take it, in the same call."""

from dataclasses import replace

from postroom.domain.events import EventType
from postroom.domain.webhooks import event_id, event_type
from postroom.ports.events import EventRecord
from postroom.ports.webhooks import Endpoint, FeedItem, Message, MessageState
from postroom.storage.memory.state import MemoryState, StoredItem, StoredMessage
from postroom.storage.webhook_rows import takes


def feed_event(state: MemoryState, record: EventRecord) -> int:
    """The item of a matched event, once per event (`unknown` changes nothing, so none); how
    many webhook messages it was fanned out to."""
    if record.type is EventType.UNKNOWN or record.seq in state.fed_events:
        return 0
    now = state.clock.now()
    item = FeedItem(0, record.tenant, event_type(record.type), record.at, now)
    before = state.last_message_id
    state.fed_events[record.seq] = append(state, item, record.seq)
    return state.last_message_id - before


def append(state: MemoryState, item: FeedItem, event_seq: int | None = None, skip: str = "") -> int:
    """Store the item under the next seq and give each enabled endpoint of its tenant that
    takes its type (but `skip`) a message; its seq."""
    state.last_feed_seq += 1
    stored = replace(item, seq=state.last_feed_seq)
    state.feed[stored.seq] = StoredItem(stored, event_seq)
    now = state.clock.now()
    for endpoint in ordered_endpoints(state, stored.tenant):
        if endpoint.enabled and endpoint.id != skip and takes(endpoint.types, stored.type):
            message = Message(
                id=0,
                webhook_id=event_id(stored.seq),
                endpoint_id=endpoint.id,
                tenant=stored.tenant,
                type=stored.type,
                state=MessageState.PENDING,
                attempts=0,
                created_at=now,
                next_at=now,
            )
            add_message(state, message, stored.seq)
    return stored.seq


def add_message(state: MemoryState, message: Message, feed_seq: int = 0) -> None:
    state.last_message_id += 1
    stored = replace(message, id=state.last_message_id)
    state.outbox[stored.id] = StoredMessage(stored, feed_seq)


def ordered_endpoints(state: MemoryState, tenant: str) -> list[Endpoint]:
    """The tenant's endpoints, oldest first, as the SQL engines order them."""
    found = [e for e in state.endpoints.values() if e.tenant == tenant]
    return sorted(found, key=lambda e: (e.created_at, e.id))


def item_of(state: MemoryState, stored: StoredItem) -> FeedItem:
    """The item with its event's fields (the email, recipient and what the provider said)."""
    if stored.event_seq is None:
        return stored.item
    event = state.events.get(stored.event_seq)
    if event is None:
        return stored.item
    record = event.record
    return replace(
        stored.item,
        email_id=record.email_id,
        recipient_index=record.recipient_index,
        provider=record.provider,
        bounce=record.bounce,
        reject_reason=record.reject_reason,
        description=record.description,
    )


def drop_items_of_events(state: MemoryState, seqs: set[int]) -> None:
    """An event's item goes with its event (retention): it would name no email otherwise."""
    for event_seq in seqs & state.fed_events.keys():
        state.feed.pop(state.fed_events.pop(event_seq), None)
