"""The memory engine's webhook endpoints, feed and outbox (ports/webhooks.py)."""

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from postroom.domain.webhooks import ENDPOINT_DISABLED
from postroom.ports.webhooks import (
    Attempt,
    Endpoint,
    FeedItem,
    Leased,
    Message,
    MessageState,
    NewMessage,
    Outcome,
)
from postroom.storage.memory.feed import add_message, append, item_of, ordered_endpoints
from postroom.storage.memory.state import MemoryState, StoredMessage
from postroom.storage.webhook_rows import MessageChange, disables, endpoint_changes, message_changes

PENDING = MessageState.PENDING


class MemoryWebhookStore:
    def __init__(self, state: MemoryState) -> None:
        self._state = state

    async def create_endpoint(self, endpoint: Endpoint) -> None:
        self._state.endpoints[endpoint.id] = endpoint

    async def get_endpoint(self, tenant: str, endpoint_id: str) -> Endpoint | None:
        found = self._state.endpoints.get(endpoint_id)
        return found if found is not None and found.tenant == tenant else None

    async def list_endpoints(self, tenant: str) -> list[Endpoint]:
        return ordered_endpoints(self._state, tenant)

    async def update_endpoint(self, endpoint: Endpoint) -> bool:
        if await self.get_endpoint(endpoint.tenant, endpoint.id) is None:
            return False
        self._state.endpoints[endpoint.id] = endpoint
        return True

    async def delete_endpoint(self, tenant: str, endpoint_id: str) -> bool:
        state = self._state
        if await self.get_endpoint(tenant, endpoint_id) is None:
            return False
        del state.endpoints[endpoint_id]
        state.outbox = {
            k: m for k, m in state.outbox.items() if m.message.endpoint_id != endpoint_id
        }
        state.webhook_attempts = {
            k: a for k, a in state.webhook_attempts.items() if a.endpoint_id != endpoint_id
        }
        return True

    async def enqueue(self, messages: Sequence[NewMessage]) -> None:
        now = self._state.clock.now()
        for new in messages:
            message = Message(
                id=0,
                webhook_id=new.webhook_id,
                endpoint_id=new.endpoint_id,
                tenant=new.tenant,
                type=new.type,
                state=PENDING,
                attempts=0,
                created_at=now,
                next_at=new.next_at,
                payload=new.payload,
            )
            add_message(self._state, message)

    async def lease(self, limit: int, now: float, hold: float) -> list[Leased]:
        state = self._state
        due = [
            (m, endpoint)
            for m in state.outbox.values()
            if m.message.state is PENDING
            and m.message.next_at <= now
            and (endpoint := state.endpoints.get(m.message.endpoint_id)) is not None
            and endpoint.enabled
        ]
        due.sort(key=lambda pair: (pair[0].message.next_at, pair[0].message.id))
        for stored, _ in due[:limit]:
            stored.message = replace(stored.message, next_at=now + hold)
        return [Leased(self._read(stored), endpoint) for stored, endpoint in due[:limit]]

    async def settle(self, outcomes: Sequence[Outcome]) -> None:
        state = self._state
        for outcome in outcomes:
            state.last_attempt_id += 1
            attempt = replace(outcome.attempt, id=state.last_attempt_id)
            state.webhook_attempts[attempt.id] = attempt
        for change in message_changes(outcomes):
            stored = state.outbox.get(change.id)
            if stored is not None:
                stored.message = _changed(stored.message, change)
        for ec in endpoint_changes(outcomes):
            endpoint = state.endpoints.get(ec.endpoint_id)
            if endpoint is not None:
                failing = ec.applied(endpoint.failing_since)
                state.endpoints[ec.endpoint_id] = replace(endpoint, failing_since=failing)
        for outcome in disables(outcomes):
            self._disable(outcome)

    def _disable(self, outcome: Outcome) -> None:
        """Only an enabled endpoint is disabled, so two outcomes racing to it add one item."""
        state = self._state
        endpoint = state.endpoints.get(outcome.attempt.endpoint_id)
        if endpoint is None or not endpoint.enabled:
            return
        reason = outcome.disable_reason
        state.endpoints[endpoint.id] = replace(endpoint, enabled=False, disabled_reason=reason)
        at, now = outcome.attempt.at, state.clock.now()
        item = FeedItem(0, endpoint.tenant, ENDPOINT_DISABLED, at, now, data=outcome.disabled_data)
        append(state, item, skip=endpoint.id)

    async def attempts(
        self, tenant: str, endpoint_id: str, limit: int, before: int = 0
    ) -> list[Attempt]:
        if await self.get_endpoint(tenant, endpoint_id) is None:
            return []
        found = [
            a
            for a in self._state.webhook_attempts.values()
            if a.endpoint_id == endpoint_id and (before <= 0 or a.id < before)
        ]
        return sorted(found, key=lambda a: -a.id)[: max(limit, 0)]

    async def replay(
        self,
        tenant: str,
        endpoint_id: str,
        since: float,
        until: float,
        failed_only: bool,
        now: float,
        webhook_id: str = "",
    ) -> int:
        replayed = 0
        for stored in self._state.outbox.values():
            m = stored.message
            if (
                (m.tenant, m.endpoint_id) == (tenant, endpoint_id)
                and since <= m.created_at < until
                and (not failed_only or m.state is MessageState.FAILED)
                and (not webhook_id or m.webhook_id == webhook_id)
            ):
                stored.message = replace(m, state=PENDING, attempts=0, next_at=now)
                replayed += 1
        return replayed

    async def feed(
        self, tenant: str, after: int, types: Sequence[str], limit: int
    ) -> list[FeedItem]:
        state = self._state
        found = [
            item_of(state, stored)
            for seq, stored in sorted(state.feed.items())
            if seq > after
            and stored.item.tenant == tenant
            and (not types or stored.item.type in types)
        ]
        return found[: max(limit, 0)]

    async def counts(self) -> dict[str, int]:
        found = Counter(m.message.state for m in self._state.outbox.values())
        return {state.value: found[state] for state in MessageState}

    async def purge_webhooks(self, before: float) -> int:
        state = self._state
        old = [seq for seq, s in state.feed.items() if s.item.created_at < before]
        for seq in old:
            event_seq = state.feed.pop(seq).event_seq
            if event_seq is not None:
                state.fed_events.pop(event_seq, None)
        state.outbox = {
            k: m
            for k, m in state.outbox.items()
            if m.message.state is PENDING or m.message.created_at >= before
        }
        state.webhook_attempts = {k: a for k, a in state.webhook_attempts.items() if a.at >= before}
        return len(old)

    def _read(self, stored: StoredMessage) -> Message:
        """The message with its feed item, None once that was purged."""
        if not stored.feed_seq:
            return stored.message
        item = self._state.feed.get(stored.feed_seq)
        return replace(stored.message, item=None if item is None else item_of(self._state, item))


def _changed(message: Message, change: MessageChange) -> Message:
    next_at = message.next_at if change.next_at is None else change.next_at
    attempts = message.attempts + change.attempts
    return replace(message, state=change.state, attempts=attempts, next_at=next_at)
