"""The queue port: SQS-like semantics over any durable engine."""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from postroom.domain.keys import DEFAULT_TENANT
from postroom.domain.states import State
from postroom.domain.values import quick_init


@dataclass(frozen=True, slots=True)
class Event:
    """One change of an email's state, as the status API reports it."""

    at: float
    state: State
    provider: str = ""
    reason: str = ""
    # Set on provider attempts only: the outcome class (sent, permanent, misconfigured,
    # throttled, down, unsupported) and the provider's status code ("http_503", "smtp_550").
    outcome: str = ""
    code: str = ""
    # Provider attempts only: how long the provider call took, in milliseconds (the attempts
    # table's duration_ms; the dashboard's latency percentiles). None: not measured.
    duration_ms: float | None = None

    @property
    def is_attempt(self) -> bool:
        """A provider call: kept in the attempts table as well as the history."""
        return bool(self.outcome)

    @property
    def message_id(self) -> str:
        """The provider's id for the email, which a sent event's reason holds; "" otherwise."""
        return self.reason if self.state is State.SENT else ""


@quick_init
@dataclass(frozen=True)
class NewEmail:
    id: str
    payload: bytes
    # Invisible to `lease` before this time; equal to the submit time for "send now".
    not_before: float
    scheduled: bool = False
    idempotency_key: str | None = None
    # Identifies the request's content, so a repeated key with other content is a conflict.
    fingerprint: bytes = b""
    # The API key that submitted it; only that key may see or cancel it ("" without auth).
    owner: str = ""
    # Stored beside the sealed payload, in the same write, so the tenant's emails can be
    # listed and filtered (EmailStore.page): the key's tenant, and the keyed hashes of the
    # email's tags and of its recipients' addresses (services/addresses.py), each once; never a
    # tag or an address itself (either may name a person).
    tenant: str = DEFAULT_TENANT
    tags: tuple[str, ...] = ()
    recipient_keys: tuple[str, ...] = ()


class PutOutcome(StrEnum):
    CREATED = "created"
    DUPLICATE = "duplicate"  # same idempotency key, same content: the original email
    CONFLICT = "conflict"  # same idempotency key, other content: nothing stored


@quick_init
@dataclass(frozen=True, slots=True)
class PutResult:
    outcome: PutOutcome
    id: str
    state: State


@dataclass(frozen=True, slots=True)
class Lease:
    id: str
    # Proves the holder still owns the lease; settling with a stale token does nothing.
    token: str
    payload: bytes
    # How many times the email has been leased, this time included.
    attempt: int
    created_at: float
    # When the lease lapses unless extended or settled.
    expires_at: float


@dataclass(frozen=True, slots=True)
class QueueStats:
    ready: int  # may be leased now
    scheduled: int  # waiting for their time (sendAt or a retry)
    in_flight: int  # leased and not settled
    dead: int  # dead-lettered
    oldest_age: float  # seconds the oldest ready email has waited; 0 when none


class Queue(Protocol):
    async def put(self, email: NewEmail) -> PutResult:
        """Store the email durably before returning; raise StorageUnavailableError otherwise.

        With an idempotency key seen in the last 24 h, store nothing and return the original
        email (DUPLICATE, same fingerprint) or CONFLICT (other fingerprint). Concurrent puts
        with one key create one email.
        """
        ...

    async def put_many(self, emails: Sequence[NewEmail]) -> list[PutResult]:
        """`put` for each email, in one durable write (a batch request): the results in order.
        Each email's idempotency key applies to it alone, as in `put`; a key repeated within
        the batch with the same fingerprint is a DUPLICATE of the first. Raise
        StorageUnavailableError when the write failed; then nothing was acknowledged."""
        ...

    async def lease(self, limit: int, visibility: float) -> list[Lease]:
        """Up to `limit` emails whose time has come, oldest first, each hidden for `visibility`
        seconds. A lease that is not settled in that time comes back to be leased again."""
        ...

    async def extend(self, lease: Lease, visibility: float) -> bool:
        """Keep the lease for `visibility` more seconds from now; False if it was lost."""
        ...

    async def extend_all(self, leases: Sequence[Lease], visibility: float) -> list[bool]:
        """`extend` for many leases in one storage call (the worker's heartbeat): for each
        lease, in order, whether it is still held. Raise StorageUnavailableError when the
        call failed; then no lease was extended."""
        ...

    # Settling records `attempts` (the provider calls of this lease that did not end it, in
    # order) and then `event`, in the same write as the change of state: a history never holds
    # an attempt without its outcome, and delivery costs no extra round trip per attempt. The
    # provider attempts among them (Event.is_attempt) also go to the attempts table, in that
    # same write, for EmailStore.find_by_provider_id. A settle with a stale token records nothing.

    async def ack(self, lease: Lease, event: Event, attempts: Sequence[Event] = ()) -> bool:
        """The email was sent: record the events and remove it from the queue for good."""
        ...

    async def retry(
        self, lease: Lease, at: float, event: Event, attempts: Sequence[Event] = ()
    ) -> bool:
        """Release the lease, record the events and hide the email until `at`."""
        ...

    async def dead_letter(self, lease: Lease, event: Event, attempts: Sequence[Event] = ()) -> bool:
        """Give up: record the events and keep the email among the dead letters."""
        ...

    async def stats(self) -> QueueStats:
        """Counts and the age of the oldest ready email, for metrics and autoscaling."""
        ...
